"""Study files: validation (one line naming file, key and value; nothing written), presets,
the plan and its shards."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adversarial.recipes import ALL_TASKS, FAMILIES
from harness_tasks.data.parallel import PARALLEL_FAMILIES
from studies import spec
from studies.cli import main
from studies.plan import PARALLEL, plan, select

from .conftest import tiny_study

pytestmark = pytest.mark.shared_data

BAD = [
    ({"targets": ["xnli", "xnlii"]}, "key targets: 'xnlii' is not a known task"),
    ({"attacks": ["charnoise", "typo"]}, "key attacks: 'typo' is not a known attack"),
    ({"seeds": [1, "two"]}, "key seeds: 'two' is not a non-negative integer seed"),
    ({"seeds": []}, "key seeds: [] must be a non-empty list"),
    ({"seeds": [3, 3]}, "key seeds: [3, 3] lists a seed twice"),
    ({"seeds": [-1]}, "key seeds: -1 is not a non-negative integer seed"),
    ({"recipes": ["direct", {"intermediate": ["anlii"]}]}, "'anlii' is not a known intermediate"),
    ({"languages": ["de", "German"]}, "key languages: 'German' is not an XTREME language code"),
    ({"adaptive": {"attacks": ["nope"]}}, "key adaptive.attacks: 'nope' is not a known attack"),
    ({"limits": {"eval_docs": 0}}, "key limits.eval_docs: 0 must be a positive integer"),
    ({"eval": {"processes": 0}}, "key eval.processes: 0 must be a positive integer"),
    ({"eval": {"gpus": 2}}, "key eval: {'gpus': 2} takes batch_size, device and processes only"),
    ({"colour": "blue"}, "key colour: 'blue' is not a study key"),
    ({"data": {"xtreme_dir": "/nonexistent/xtreme"}}, "key data.xtreme_dir: '/nonexistent/xtreme'"),
    ({"targets": ["xcopa"], "languages": ["et"]}, "key targets: 'xcopa' has no data folder"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_malformed_study_is_one_line_exit_2_and_writes_nothing(
    tmp_path, shared_data, capsys, change, message
):
    path = tiny_study(tmp_path / "spec", tmp_path / "base", shared_data, **change)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xtreme-adv study: error: ")
    assert str(path) in err and message in err
    assert not out.exists()


def test_unknown_preset_and_bad_flags(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--preset", "xstils-small", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--preset: unknown preset 'xstils-small'; choose from demo, xstilts-paper" in err
    assert main(["run", "--preset", "demo", "--out", str(out), "--shard", "2/2"]) == 2
    assert "--shard: '2/2'" in capsys.readouterr().err
    assert main(["run", "--preset", "demo", "--out", str(out), "--launch", "slurm"]) == 2
    assert "unrecognized arguments: --launch" in capsys.readouterr().err  # no abbreviations
    assert main(["run", "--preset", "demo", "--out", str(tmp_path / "no" / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.yaml"), "--out", str(out)]) == 2
    assert "missing.yaml: cannot read the study file" in capsys.readouterr().err
    assert not out.exists()


def test_presets_load_and_plan(shared_data, tmp_path, monkeypatch):
    monkeypatch.delenv("XTREME_DATA_DIR", raising=False)
    assert spec.preset_names() == ["demo", "xstilts-paper", "xstilts-small"]
    demo = spec.load(spec.preset_path("demo"))  # no data: the demo skips what needs it
    cells = plan(demo, tmp_path)
    assert all(c.skip for c in cells if c.kind in ("train", "sets", "eval"))
    small = spec.load(
        spec.preset_path("xstilts-small"),
        data_dir=shared_data / "xtreme",
        intermediate_dir=shared_data / "intermediate",
    )
    cells = plan(small, tmp_path)
    n_models = len(small.base_models) * len(small.targets) * len(small.recipes) * len(small.seeds)
    kinds = [c.kind for c in cells]
    assert kinds.count("train") == n_models
    # one eval of the clean and static sets, one of the model's own adaptive sets, per model
    assert kinds.count("eval") == 2 * n_models
    # A set per target and attack that applies to it: no distractor for retrieval queries.
    assert kinds.count("sets") == sum(len(small.attacks_for(t)) for t in small.targets) == 8
    assert small.not_applicable() == [("tatoeba", "distractor")]
    assert "sets/tatoeba/distractor" not in {c.id for c in cells}
    (ev,) = [c for c in cells if c.id == "eval/xstilts-small-e5s-tatoeba-anli-s14"]
    assert not any("distractor" in t for t in ev.argv[ev.argv.index("--tasks") + 1].split(","))
    assert "sets/tatoeba/distractor" not in ev.deps and "sets/tatoeba/visual" in ev.deps
    n_adaptive = sum(
        len(small.adaptive["attacks"]) * len(small.recipes) * len(small.seeds)
        for t in small.targets
    )  # one cell per model and family, its languages in one process
    assert kinds.count("adaptive") == n_adaptive
    assert not any(c.skip for c in cells)
    # Every eval scores the clean and the adversarial task of each of its languages.
    (ev,) = [c for c in cells if c.id == "eval/xstilts-small-e5s-pawsx-anli-s14"]
    tasks = ev.argv[ev.argv.index("--tasks") + 1].split(",")
    assert len(tasks) == len(small.langs("pawsx")) * (1 + len(small.attacks))
    paper = spec.load(spec.preset_path("xstilts-paper"), data_dir=shared_data / "xtreme")
    assert len(paper.recipes) == 10 and "--bf16" in paper.training["args"]
    # Parallel tasks' sets hold the first eval_docs documents of each half, so they pair with
    # a model scored on either half or on every document; the others their first eval_docs.
    (sets,) = [c for c in cells if c.id == "sets/pawsx/charnoise"]
    assert sets.argv[sets.argv.index("--limit") + 1 :][:2] == ["500", "--each-half"]
    (sets,) = [c for c in cells if c.id == "sets/tatoeba/charnoise"]
    assert "--each-half" not in sets.argv
    (ad,) = [c for c in cells if c.id == "eval/xstilts-small-e5s-pawsx-anli-s14/adaptive"]
    tasks = ad.argv[ad.argv.index("--tasks") + 1].split(",")
    assert tasks == [f"xtreme_adv_pawsx_adaptive-charnoise-self_{g}" for g in small.langs("pawsx")]
    assert ad.deps == ["adaptive/xstilts-small-e5s-pawsx-anli-s14/charnoise"]
    (attack,) = [c for c in cells if c.id == ad.deps[0]]
    assert attack.argv[attack.argv.index("--lang") + 1] == ",".join(small.langs("pawsx"))
    assert attack.output == tmp_path / "adaptive/xstilts-small-e5s-pawsx-anli-s14/charnoise"
    assert (
        "--limit" not in ad.argv and ad.output.name == "xstilts-small-e5s-pawsx-anli-s14-adaptive"
    )
    (board,) = [c for c in cells if c.kind == "leaderboard"]
    assert ad.id in board.deps and ev.id in board.deps
    # Retrieval is scored against the whole pool, which every set keeps.
    (ev,) = [c for c in cells if c.id == "eval/xstilts-small-e5s-tatoeba-anli-s14"]
    assert "--limit" not in ev.argv
    # The targets of one intermediate recipe and seed share its phase: one cache, one group.
    chain = [c for c in cells if c.id.startswith("train/") and c.id.endswith("-cosmosqa-s15")]
    assert sorted(c.id.split("-")[3] for c in chain) == ["pawsx", "tatoeba", "xnli"]
    assert {c.group for c in chain} == {"xstilts-small-e5s-cosmosqa-s15"}
    caches = {c.argv[c.argv.index("--intermediate-cache") + 1] for c in chain}
    assert caches == {str(tmp_path / "intermediate")}
    assert {c.group for c in cells if c.id.endswith("-xnli-cosmosqa-s15")} == {chain[0].group}
    direct = [c for c in cells if c.id.startswith("train/") and "-direct-" in c.id]
    assert all("--intermediate-cache" not in c.argv and c.group == c.id[6:] for c in direct)
    # studies keeps its own list (it reaches the other packages through commands); the same.
    assert PARALLEL == PARALLEL_FAMILIES
    # ... and its own table of the attacks that apply to some tasks only: adversarial's.
    partial = {n: f.tasks for n, f in FAMILIES.items() if set(f.tasks) != set(ALL_TASKS)}
    assert partial == spec.ATTACK_TASKS and set(FAMILIES) == set(spec.ATTACKS)


def test_shards_split_models_and_cover_every_cell(study_file, tmp_path):
    raw = yaml.safe_load(study_file.read_text())
    raw["seeds"] = [1, 2, 3]
    study_file.write_text(yaml.safe_dump(raw))
    study = spec.load(study_file)
    cells = plan(study, tmp_path)
    shards = [select(cells, (i, 2)) for i in range(2)]
    groups = [{c.group for c in s if c.group} for s in shards]
    assert groups[0].isdisjoint(groups[1])
    assert groups[0] | groups[1] == {c.group for c in cells if c.group}
    assert len(groups[0]) == 3 and len(groups[1]) == 3  # 6 models, alternated
    covered = {c.id for s in shards for c in s}
    assert covered == {c.id for c in cells if c.kind not in ("leaderboard", "report")}
    # Each shard builds the sets its models need.
    for s in shards:
        assert {"sets/xnli/charnoise", "model/e5s2"} <= {c.id for c in s}


def test_plan_prints_commands(study_file, tmp_path, capsys):
    assert main(["plan", str(study_file), "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "train/tiny-e5s2-xnli-anli-s1: xtreme-adv train intermediate" in text
    assert "--intermediate anli" in text and "eval/tiny-e5s2-xnli-direct-s1" in text
    assert not (tmp_path / "o").exists()


def test_set_overrides_a_key(study_file, tmp_path, capsys):
    argv = ["plan", str(study_file), "--out", str(tmp_path / "o"), "--set", "seeds=[4, 5]"]
    assert main(argv) == 0
    assert "train/tiny-e5s2-xnli-direct-s5" in capsys.readouterr().out
    assert main([*argv[:-1], "seeds=[4, x]"]) == 2
    assert "key seeds: 'x'" in capsys.readouterr().err


def test_recorded_path_is_a_file(tmp_path):
    assert Path(spec.preset_path("demo")).is_file()


def test_target_recipes_narrow_a_target(study_file, tmp_path, capsys):
    raw = yaml.safe_load(study_file.read_text())
    raw.update(targets=["xnli", "tatoeba"], target_recipes={"tatoeba": ["direct"]})
    study_file.write_text(yaml.safe_dump(raw))
    trains = [c.id for c in plan(spec.load(study_file), tmp_path) if c.kind == "train"]
    assert trains == [
        "train/tiny-e5s2-xnli-direct-s1",
        "train/tiny-e5s2-xnli-anli-s1",
        "train/tiny-e5s2-tatoeba-direct-s1",
    ]
    raw["target_recipes"] = {"tatoeba": ["direkt"]}
    study_file.write_text(yaml.safe_dump(raw))
    assert main(["plan", str(study_file), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "key target_recipes.tatoeba: 'direkt' is not a known recipe of this study" in err


def test_eval_processes_run_lm_eval_data_parallel(study_file, tmp_path):
    """``eval.processes: N``: every eval cell is ``eval run --nproc-per-node N`` (lm-eval's data
    parallelism; tested in tests/harness/test_data_parallel.py); one process by default."""
    raw = yaml.safe_load(study_file.read_text())
    evals = [c for c in plan(spec.load(study_file), tmp_path) if c.kind == "eval"]
    assert evals and all("--nproc-per-node" not in c.argv for c in evals)
    raw["eval"] = {"device": "cuda", "processes": 4}
    study_file.write_text(yaml.safe_dump(raw))
    evals = [c for c in plan(spec.load(study_file), tmp_path) if c.kind == "eval"]
    assert evals and all(c.argv[c.argv.index("--nproc-per-node") + 1] == "4" for c in evals)
