"""Determinism, resumption after a real kill, sharding and merge, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adversarial import build as build_mod
from adversarial.build import BuildRequest, build, work_dir
from adversarial.cli import main

from .conftest import read_manifest

pytestmark = pytest.mark.shared_data
REPO = Path(__file__).resolve().parents[2]
PARAMS = {"similarity_model": "embedded:2"}


def _request(data_dir, limit=192, seed=7, params=None):
    return BuildRequest(
        "xnli",
        "de",
        "charnoise",
        PARAMS if params is None else params,
        seed=seed,
        data_dir=str(data_dir),
        limit=limit,
    )


FAST = {"min_similarity": 0}  # where the similarity model is not what is under test


def _fast_build(data_dir, root: Path, limit: int, **shards):
    """A build without the similarity model (not what these tests are about)."""
    return build(_request(data_dir, limit=limit, params=FAST), root=root, progress=False, **shards)


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_inputs_and_seed_give_byte_identical_sets(tmp_path, xtreme_data_dir):
    a = build(_request(xtreme_data_dir, limit=64), root=tmp_path / "a", progress=False)
    b = build(_request(xtreme_data_dir, limit=64), root=tmp_path / "b", progress=False)
    assert _bytes(a) == _bytes(b)
    c = build(_request(xtreme_data_dir, limit=64, seed=8), root=tmp_path / "c", progress=False)
    assert read_manifest(c)["data"]["sha256"] != read_manifest(a)["data"]["sha256"]


@pytest.mark.slow
def test_killed_build_resumes_to_the_same_hash(tmp_path, xtreme_data_dir, monkeypatch):
    reference = build(_request(xtreme_data_dir), root=tmp_path / "ref", progress=False)
    root = tmp_path / "killed"
    child = (
        "from adversarial.cli import main; raise SystemExit(main(["
        f"'build', '--task', 'xnli', '--langs', 'de', '--attack', 'charnoise', '--seed', '7',"
        f"'--limit', '192', '--data-dir', {str(xtreme_data_dir)!r}, '--out', {str(root)!r},"
        "'--param', 'similarity_model=embedded:2', '--no-progress']))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", child],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    work = work_dir(root, "xnli", "charnoise", "de")
    deadline = time.time() + 180
    try:
        while not list(work.glob("*/chunk-00000.jsonl")):
            assert proc.poll() is None, "the build ended before it could be interrupted"
            assert time.time() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = len(list(work.glob("*/chunk-*.jsonl")))
    assert 1 <= done_before < 3  # 192 docs = 3 chunks: killed midway
    assert not (root / "xnli" / "charnoise" / "de").exists()  # no half-written set

    calls = []
    original_run = build_mod._ChunkRunner.run

    def counting_run(self, start, end):
        calls.append(start)
        return original_run(self, start, end)

    monkeypatch.setattr(build_mod._ChunkRunner, "run", counting_run)
    resumed = build(_request(xtreme_data_dir), root=root, progress=False)
    assert len(calls) == 3 - done_before  # finished chunks are not redone
    assert _bytes(resumed) == _bytes(reference)
    ids = [e["id"] for e in read_manifest(resumed)["examples"]]
    assert ids == [f"de-{i}" for i in range(192)]  # nothing lost, nothing duplicated


def test_injected_failure_leaves_no_set_and_resumes(tmp_path, xtreme_data_dir, monkeypatch):
    original_run = build_mod._ChunkRunner.run

    def failing_run(self, start, end):
        if start >= 64:
            raise RuntimeError("injected failure")
        return original_run(self, start, end)

    monkeypatch.setattr(build_mod._ChunkRunner, "run", failing_run)
    with pytest.raises(RuntimeError, match="injected"):
        build(
            _request(xtreme_data_dir, limit=100, params=FAST), root=tmp_path / "x", progress=False
        )
    assert not (tmp_path / "x" / "xnli" / "charnoise" / "de").exists()
    assert not (tmp_path / "x" / "tasks").exists()
    monkeypatch.setattr(build_mod._ChunkRunner, "run", original_run)
    resumed = build(
        _request(xtreme_data_dir, limit=100, params=FAST), root=tmp_path / "x", progress=False
    )
    fresh = build(
        _request(xtreme_data_dir, limit=100, params=FAST), root=tmp_path / "y", progress=False
    )
    assert _bytes(resumed) == _bytes(fresh)


def _merge(root: Path) -> int:
    return main(["merge", "--task", "xnli", "--attack", "charnoise", "--langs", "de",
                 "--out", str(root)])  # fmt: skip


def test_shards_from_machines_with_other_folders_merge(tmp_path, xtreme_data_dir):
    # Two "machines": the same data under different absolute paths, one shard each.
    import shutil

    copy = tmp_path / "elsewhere" / "xtreme"
    shutil.copytree(xtreme_data_dir / "xnli", copy / "xnli")
    root = tmp_path / "sharded"
    assert _fast_build(xtreme_data_dir, root, 150, num_shards=2, shard_index=0) is None
    assert _fast_build(copy, root, 150, num_shards=2, shard_index=1) is None
    assert _merge(root) == 0
    whole = _fast_build(xtreme_data_dir, tmp_path / "whole", 150)
    assert _bytes(root / "xnli" / "charnoise" / "de") == _bytes(whole)


def test_shards_merge_to_the_unsharded_set(tmp_path, xtreme_data_dir, capsys):
    whole = _fast_build(xtreme_data_dir, tmp_path / "whole", 150)
    root = tmp_path / "sharded"
    assert _fast_build(xtreme_data_dir, root, 150, num_shards=2, shard_index=1) is None
    # Merging before every shard is done is a clear error.
    assert _merge(root) == 2
    assert "chunks missing" in capsys.readouterr().err
    assert _fast_build(xtreme_data_dir, root, 150, num_shards=2, shard_index=0) is None
    assert _merge(root) == 0
    assert _bytes(root / "xnli" / "charnoise" / "de") == _bytes(whole)


BAD = [
    (["--attack", "typo"], "unknown attack 'typo'"),
    (["--param", "max_ratoi=0.3"], "unknown parameter 'max_ratoi'"),
    (["--param", "max_ratio=lots"], "max_ratio='lots' is not a float"),
    (["--param", "max_ratio=1.5"], "max_ratio=1.5 not in (0, 1]"),
    (["--param", "operations=swap,teleport"], "operations='swap,teleport'"),
    (["--split", "test"], "no data for xtreme_xnli_de"),
    (["--task", "udpos", "--attack", "distractor"], "does not apply to task udpos"),
    (["--attack", "codeswitch"], "parameter dictionary is required"),
    (["--langs", "xx"], "language 'xx' is not part of XTREME"),
]


def _build_argv(out: Path, data_dir: Path, *args: str) -> list[str]:
    """``attack build`` arguments for 8 documents of the shared data into ``out``."""
    return ["build", *args, "--out", str(out), "--data-dir", str(data_dir), "--limit", "8"]


@pytest.mark.parametrize(("extra", "message"), BAD)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path, xtreme_data_dir, capsys, extra, message
):
    args = {"--task": "xnli", "--langs": "de", "--attack": "charnoise"}
    flags = []
    for i in range(0, len(extra), 2):
        if extra[i] in args:
            args[extra[i]] = extra[i + 1]
        else:
            flags += extra[i : i + 2]
    argv = _build_argv(
        tmp_path / "o", xtreme_data_dir, *[x for kv in args.items() for x in kv], *flags
    )
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xtreme-adv attack: error: ")
    assert message in err
    assert not (tmp_path / "o" / "xnli").exists() and not (tmp_path / "o" / "tasks").exists()
    assert not list((tmp_path / "o").rglob("config.json"))  # no work folder either


def test_bad_dictionary_file_names_file_and_line(tmp_path, xtreme_data_dir, capsys):
    bad = tmp_path / "de-en.txt"
    bad.write_text("haus house\nmutter\tmother\tMutti\n", encoding="utf-8")
    argv = _build_argv(tmp_path / "o", xtreme_data_dir, "--task", "xnli", "--langs", "de",
                       "--attack", "codeswitch", "--param", f"dictionary={bad}")  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{bad}: line 2: expected 'source target'" in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "xnli" / "codeswitch").exists()
    assert not list((tmp_path / "o").rglob("config.json"))
    # Corrected, the build runs through: no leftover of the failed one stands in its way.
    good = tmp_path / "fixed" / "de-en.txt"
    good.parent.mkdir()
    good.write_text("haus house\nmutter mother\n", encoding="utf-8")
    argv[argv.index(f"dictionary={bad}")] = f"dictionary={good}"
    assert main(argv) == 0
    assert (tmp_path / "o" / "xnli" / "codeswitch" / "de" / "manifest.json").is_file()


# --- Finished sets are skipped; kills at any moment (also inside a write) leave nothing -----


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes, with the root's own path written as
    ``<root>``: task YAMLs name it), hidden ones included."""
    here = str(root.resolve()).encode()
    return {
        str(p.relative_to(root)): p.read_bytes().replace(here, b"<root>")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _cli_build(root: Path, data_dir: Path, langs: str, seed: int = 7, kill_at: str | None = None):
    """``xtreme-adv attack build`` in a subprocess; with ``kill_at`` it SIGKILLs itself there."""
    argv = ["build", "--task", "xnli", "--langs", langs, "--attack", "charnoise",
            "--seed", str(seed), "--limit", "70", "--data-dir", str(data_dir),
            "--out", str(root), "--param", "min_similarity=0", "--no-progress"]  # fmt: skip
    child = f"from adversarial.cli import main; raise SystemExit(main({argv!r}))"
    env = {k: v for k, v in os.environ.items() if k != "XTREME_ADV_KILL_AT"}
    env["PYTHONPATH"] = str(REPO)
    if kill_at:
        env["XTREME_ADV_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, timeout=300)


def _fast_req(data_dir, lang: str, seed: int = 7) -> BuildRequest:
    # "0" as the command line passes it (an int 0 resolves to another config key than 0.0)
    params = {"min_similarity": "0"}
    return BuildRequest(
        "xnli", lang, "charnoise", params, seed=seed, data_dir=str(data_dir), limit=70
    )


def _count_runs(monkeypatch) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    original_run = build_mod._ChunkRunner.run

    def counting_run(self, start, end):
        calls.append((self.request.lang, start))
        return original_run(self, start, end)

    monkeypatch.setattr(build_mod._ChunkRunner, "run", counting_run)
    return calls


def test_finished_set_is_skipped_and_a_changed_request_rebuilds(
    tmp_path, xtreme_data_dir, monkeypatch
):
    root = tmp_path / "adv"
    first = build(_fast_req(xtreme_data_dir, "de"), root=root, progress=False)
    before = _tree(root)
    first_key = read_manifest(first)["config_key"]
    calls = _count_runs(monkeypatch)
    again = build(_fast_req(xtreme_data_dir, "de"), root=root, progress=False)
    assert again == first and calls == [] and _tree(root) == before  # not redone, not touched
    # Another seed is another configuration: the set is rebuilt.
    rebuilt = build(_fast_req(xtreme_data_dir, "de", seed=8), root=root, progress=False)
    assert calls == [("de", 0), ("de", 64)]
    assert read_manifest(rebuilt)["config_key"] != first_key
    # A set whose data no longer matches its manifest is not taken as finished.
    (rebuilt / "data.parquet").write_bytes(b"truncated")
    build(_fast_req(xtreme_data_dir, "de", seed=8), root=root, progress=False)
    assert len(calls) == 4
    assert not [p for p in root.rglob(".*") if p.name not in (".work",)]  # no stray temporaries


@pytest.mark.slow
def test_kill_during_second_language_keeps_the_first(tmp_path, xtreme_data_dir, monkeypatch):
    reference = tmp_path / "ref"
    assert _cli_build(reference, xtreme_data_dir, "de,ru").returncode == 0
    root = tmp_path / "adv"
    build(_fast_req(xtreme_data_dir, "de"), root=root, progress=False)
    de_before = _tree(root / "xnli" / "charnoise" / "de")
    # Killed INSIDE the write of ru's first chunk (temporary written, not yet renamed); de is
    # finished, so the kill lands in ru.
    killed = _cli_build(root, xtreme_data_dir, "de,ru", kill_at="write:chunk-00000.jsonl")
    assert killed.returncode == -signal.SIGKILL
    stray = list((root / ".work" / "xnli" / "charnoise" / "ru").rglob(".chunk-00000.jsonl.tmp-*"))
    assert len(stray) == 1 and not (root / "xnli" / "charnoise" / "ru").exists()
    calls = _count_runs(monkeypatch)
    assert main(_build_argv_langs(root, xtreme_data_dir, "de,ru")) == 0
    assert calls == [("ru", 0), ("ru", 64)]  # de not redone, ru resumed from scratch
    assert _tree(root / "xnli" / "charnoise" / "de") == de_before
    assert _tree(root) == _tree(reference)  # same bytes, no stray files, no work folder


def _build_argv_langs(root: Path, data_dir: Path, langs: str) -> list[str]:
    return ["build", "--task", "xnli", "--langs", langs, "--attack", "charnoise", "--seed", "7",
            "--limit", "70", "--data-dir", str(data_dir), "--out", str(root),
            "--param", "min_similarity=0", "--no-progress"]  # fmt: skip


# The default run kills inside the data write, the Parquet merge, the manifest write and the
# swap of a replaced set; the YAML writes and the clean-up (the same atomic-write path) are in
# the long tier to keep CI lean.
KILL_POINTS = [
    "write:chunk-00001.jsonl",
    "merge:parquet",
    "write:manifest.json",
    "merge:swap",
    pytest.param("merge:yaml", marks=pytest.mark.long),
    pytest.param("write:xtreme_adv_xnli_charnoise_de.yaml", marks=pytest.mark.long),
    pytest.param("merge:cleanup", marks=pytest.mark.long),
]
_POINT_NAMES = [p if isinstance(p, str) else p.values[0] for p in KILL_POINTS]


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_inside_build_or_merge_then_rerun_gives_the_same_bytes(
    tmp_path, xtreme_data_dir, point
):
    reference = tmp_path / "ref"
    assert _cli_build(reference, xtreme_data_dir, "de").returncode == 0
    root = tmp_path / "adv"
    if point == "merge:swap":  # the swap happens when a set of other settings is replaced
        assert _cli_build(root, xtreme_data_dir, "de", seed=6).returncode == 0
    killed = _cli_build(root, xtreme_data_dir, "de", kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _cli_build(root, xtreme_data_dir, "de").returncode == 0
    assert _tree(root) == _tree(reference)


def test_planted_stale_temporaries_are_removed_live_ones_kept(tmp_path, xtreme_data_dir):
    root = tmp_path / "adv"
    parent = root / "xnli" / "charnoise"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    planted = [
        parent / f".de.tmp-{dead}-abc",
        parent / ".de.tmp-legacy",
        parent / f".de.old-{dead}",
    ]
    for folder in planted:
        folder.mkdir(parents=True)
        (folder / "data.parquet").write_bytes(b"PAR1 half")
    live = parent / f".de.tmp-{os.getpid()}-live"  # a merge in progress in a live process
    live.mkdir()
    tasks = root / "tasks"
    tasks.mkdir()
    (tasks / f".xtreme_adv_xnli_charnoise_de.yaml.tmp-{dead}-x").write_text("half")
    build(_fast_req(xtreme_data_dir, "de"), root=root, progress=False)
    assert not any(p.exists() for p in planted)
    assert live.is_dir()
    assert not list(tasks.glob(".*"))


@pytest.mark.long
def test_kill_campaign_attack_build(tmp_path, xtreme_data_dir):
    """SIGKILL `attack build --langs de,ru` at random moments (XTREME_ADV_KILLS times, default
    8), rerun the same command each time; the end state is byte-identical to an uninterrupted
    build and holds no stray file. Prints the campaign's figures."""
    import json
    import random

    kills = int(os.environ.get("XTREME_ADV_KILLS", "8"))
    argv = ["build", "--task", "xnli", "--langs", "de,ru", "--attack", "charnoise",
            "--seed", "7", "--limit", "130", "--data-dir", str(xtreme_data_dir),
            "--param", "min_similarity=0", "--no-progress"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "XTREME_ADV_KILL_AT"}
    env["PYTHONPATH"] = str(REPO)

    def command(root: Path) -> list[str]:
        full = [*argv, "--out", str(root)]
        child = f"from adversarial.cli import main; raise SystemExit(main({full!r}))"
        return [sys.executable, "-c", child]

    started = time.time()
    assert subprocess.run(command(tmp_path / "ref"), env=env, capture_output=True).returncode == 0
    duration = time.time() - started
    reference = _tree(tmp_path / "ref")
    rng = random.Random(int(os.environ.get("XTREME_ADV_KILL_SEED", "0")))
    figures = {"kills": 0, "landed": 0, "resumed": 0, "identical": 0, "stray_after_kill": 0,
               "stray_at_end": 0, "duration_s": round(duration, 1)}  # fmt: skip
    for k in range(kills):
        root = tmp_path / f"k{k}"
        kill_env = dict(env)
        if k % 2:  # inside a write or the merge, at a named point
            kill_env["XTREME_ADV_KILL_AT"] = rng.choice(_POINT_NAMES[:3] + _POINT_NAMES[4:])
            delay = 10 * duration
        else:  # at a random moment of the run
            delay = rng.uniform(0.15 * duration, 0.75 * duration)
        proc = subprocess.Popen(command(root), env=kill_env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        try:
            code = proc.wait(timeout=delay)
            figures["landed"] += code == -signal.SIGKILL
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            figures["landed"] += 1
        figures["kills"] += 1
        if root.exists():
            figures["stray_after_kill"] += sum(1 for p in root.rglob(".*tmp-*"))
        rerun = subprocess.run(command(root), env=env, capture_output=True)
        figures["resumed"] += rerun.returncode == 0
        after = _tree(root)
        figures["identical"] += after == reference
        figures["stray_at_end"] += sum(1 for p in root.rglob("*") if ".tmp-" in p.name)
    print("attack build kill campaign:", json.dumps(figures))
    assert figures["resumed"] == figures["identical"] == kills
    assert figures["stray_at_end"] == 0
