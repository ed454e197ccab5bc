"""Leaderboard build time on 250 / 500 / 1,000 generated results folders of 100 subtasks each.

Run: ``pytest benchmarks/test_bench_leaderboard.py --benchmark-only``. Goal: the 1,000-folder
build under 30 s on 2 cores, growing linearly (compare the three sizes). The baseline beside
it only reads and parses the same JSON files: the floor any build must pay.

Folders are SYNTHETIC (leaderboards.synthetic), shaped like lm-eval 0.4.13 output, with
provenance cards pairing direct and intermediate models over 5 seeds; results JSON only (the
per-sample files of 100,000 tasks would be tens of GB). A separate case times the per-sample
path (pairing by doc.id, bootstrap, McNemar) on 20 folders with 200 documents per task.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leaderboards.build import build
from leaderboards.synthetic import SyntheticModel, plan_subtasks, write_results_folder

N_FOLDERS = 1000
N_SUBTASKS = 100


def _model(i: int) -> SyntheticModel:
    # 10 models per base: seeds 1-5 direct, seeds 1-5 ANLI-intermediate.
    intermediate = (i // 5) % 2 == 1
    return SyntheticModel(
        model_id=f"bench-{i:04d}",
        recipe="intermediate" if intermediate else "direct",
        seed=i % 5 + 1,
        intermediate_tasks=["anli"] if intermediate else [],
        base_name=f"synthetic/base-{i // 10}",
        skill=0.6 + 0.3 * ((i * 37) % 100) / 100,
        robustness=0.6 + 0.3 * ((i * 53) % 100) / 100,
    )


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("bench-results")
    plan = plan_subtasks(N_SUBTASKS)
    out = []
    for i in range(N_FOLDERS):
        path = write_results_folder(root, _model(i), plan, n_docs=500, with_samples=False)
        out.append(path.parent)
    return out


@pytest.fixture(scope="module")
def sampled(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("bench-samples")
    plan = plan_subtasks(N_SUBTASKS)
    return [write_results_folder(root, _model(i), plan, n_docs=200).parent for i in range(20)]


@pytest.mark.parametrize("n", [250, 500, 1000])
def test_build_leaderboard(benchmark, folders, tmp_path, n):
    """Full build (read, pair, average, compare, render, write) of n folders."""
    benchmark.group = "leaderboard build, 100 subtasks per folder"
    benchmark.extra_info["folders"] = n
    built = benchmark.pedantic(
        build, args=(folders[:n], tmp_path / "site"), kwargs={"with_samples": False},
        rounds=1, iterations=1,
    )  # fmt: skip
    assert len(built.board.models) == n
    assert len(built.board.rows) == n * (N_SUBTASKS - N_SUBTASKS // 5)
    assert built.board.comparisons  # direct/intermediate pairs were found


@pytest.mark.parametrize("n", [1000])
def test_baseline_parse_only(benchmark, folders, n):
    """Baseline: json.load of the same n results files and nothing else."""
    benchmark.group = "leaderboard build, 100 subtasks per folder"
    benchmark.extra_info["folders"] = n

    def parse():
        return [json.loads(next(f.glob("results_*.json")).read_bytes()) for f in folders[:n]]

    assert len(benchmark.pedantic(parse, rounds=1, iterations=1)) == n


def test_build_with_samples(benchmark, sampled, tmp_path):
    """20 folders x 100 subtasks x 200 documents: pairing, 1,000-resample bootstrap, McNemar."""
    benchmark.group = "per-sample statistics"
    built = benchmark.pedantic(build, args=(sampled, tmp_path / "site"), rounds=1, iterations=1)
    assert all(r["drop_ci"] is not None for r in built.board.rows)


# --- 200 models x 10 tasks x 10 languages x 3 attacks with samples (8 million lines) ---------

BULK_LANGS = "ar de el en es fr hi ru sw zh".split()
BULK_TASKS = "xnli pawsx udpos panx xquad mlqa tydiqa bucc tatoeba xcopa".split()
BULK_ATTACKS = ["charnoise", "visual", "codeswitch"]
BULK_DOCS = 100  # 200 x 10 x 10 x (1 + 3) tasks x 100 documents = 8,000,000 sample lines
RSS_LIMIT_MB = 500


@pytest.fixture(scope="module")
def bulk(tmp_path_factory) -> tuple[Path, int]:
    """SYNTHETIC results with samples for XTREME_ADV_BENCH_MODELS models (default 200)."""
    import os

    n_models = int(os.environ.get("XTREME_ADV_BENCH_MODELS", "200"))
    root = tmp_path_factory.mktemp("bench-bulk")
    plan = [(t, BULK_LANGS, BULK_ATTACKS) for t in BULK_TASKS]
    for i in range(n_models):
        write_results_folder(root, _model(i), plan, n_docs=BULK_DOCS, fast=True)
    return root, n_models


def test_build_8m_sample_lines_under_500mb(benchmark, bulk, tmp_path):
    """Build in a child process; its peak RSS (getrusage of children) must stay under 500 MB."""
    import resource
    import subprocess
    import sys
    import time

    root, n_models = bulk
    lines = n_models * len(BULK_TASKS) * len(BULK_LANGS) * (1 + len(BULK_ATTACKS)) * BULK_DOCS

    def run():
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "leaderboards.cli", "build", str(root), "--out",
             str(tmp_path / "site")],
            capture_output=True, text=True,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        return time.perf_counter() - start

    seconds = benchmark.pedantic(run, rounds=1, iterations=1)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    benchmark.extra_info.update(
        models=n_models, sample_lines=lines, seconds=seconds, lines_per_s=lines / seconds,
        peak_rss_mb=peak_mb,
    )  # fmt: skip
    print(f"\n{n_models} models, {lines} sample lines: {seconds:.1f} s, "
          f"{lines / seconds:.0f} lines/s, peak RSS {peak_mb:.0f} MB")  # fmt: skip
    assert peak_mb < RSS_LIMIT_MB
