"""Submissions: pack, validate, and refuse hostile or inconsistent archives."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from leaderboards import submission
from leaderboards.cli import main
from leaderboards.errors import LeaderboardError
from leaderboards.synthetic import write_tasks_dir

from .conftest import LANGS, edit_results, results_file


@pytest.fixture(scope="module")
def packed(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("sub") / "sub.tar.gz"
    submission.submit([corpus], out)
    return out


def _members(path):
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def _repack(path, members, extra=()):
    """Write members (name -> bytes) plus raw TarInfo extras into a new .tar.gz."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return path


def _run_validate(path, tasks_dir, capsys, *more):
    rc = main(["validate", str(path), "--tasks-dir", str(tasks_dir), *more])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_submit_then_validate(packed, tasks_dir, capsys):
    members = _members(packed)
    manifest = json.loads(members["submission.json"])
    assert manifest["schema"] == "xtreme-adv/submission/1"
    assert len(manifest["models"]) == 6
    assert {f["path"] for f in manifest["files"]} == set(members) - {"submission.json"}
    rc, out, err = _run_validate(packed, tasks_dir, capsys)
    assert rc == 0, err
    # 6 models x (5 clean + 10 adversarial tasks)
    assert "valid submission (6 model(s), 90 tasks)" in out


def test_submission_is_reproducible(corpus, packed, tmp_path):
    again = tmp_path / "again.tar.gz"
    submission.submit([corpus], again)
    assert again.read_bytes() == packed.read_bytes()


def test_build_from_a_submission_equals_build_from_folders(corpus, packed, tmp_path, capsys):
    assert main(["build", str(corpus), "--out", str(tmp_path / "a"), "--bootstrap", "50"]) == 0
    assert main(["build", str(packed), "--out", str(tmp_path / "b"), "--bootstrap", "50"]) == 0
    capsys.readouterr()
    a = json.loads((tmp_path / "a/leaderboard.json").read_text())
    b = json.loads((tmp_path / "b/leaderboard.json").read_text())
    assert a["rows"] == b["rows"] and a["comparisons"] == b["comparisons"]


def _file_info(name, kind, target=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "name, extra, message",
    [
        ("../evil.json", None, "'..' component"),
        ("/etc/evil.json", None, "absolute"),
        ("results/0000/..", None, "'..' component"),
        ("results/a\\b.json", None, "absolute or Windows path"),
        ("results/x y.json", None, "characters outside"),
        ("link", tarfile.SYMTYPE, "is a link"),
        ("hard", tarfile.LNKTYPE, "is a link"),
        ("dev", tarfile.CHRTYPE, "special file"),
    ],
)
def test_hostile_member_names_and_types_are_refused(
    packed, tasks_dir, tmp_path, capsys, name, extra, message
):
    members = _members(packed)
    if extra is None:
        members[name] = b"{}"
        bad = _repack(tmp_path / "bad.tar.gz", members)
    else:
        bad = _repack(tmp_path / "bad.tar.gz", members, [_file_info(name, extra, "/etc/passwd")])
    rc, _, err = _run_validate(bad, tasks_dir, capsys)
    assert rc == 2 and message in err and str(bad) in err
    assert not (tmp_path / "evil.json").exists()


def test_too_large_submission_is_refused_before_reading(packed, tasks_dir, capsys, monkeypatch):
    monkeypatch.setattr(submission, "MAX_SUBMISSION_BYTES", 1000)
    rc, _, err = _run_validate(packed, tasks_dir, capsys)
    assert rc == 2 and f"{packed}: submission is" in err and "over the limit of 1000" in err


def test_unpacked_size_is_capped(packed, tasks_dir, capsys, monkeypatch):
    monkeypatch.setattr(submission, "MAX_UNPACKED_BYTES", 50_000)
    rc, _, err = _run_validate(packed, tasks_dir, capsys)
    assert rc == 2 and "unpacked size over the limit" in err


def test_not_a_tarball(tmp_path, tasks_dir, capsys):
    bad = tmp_path / "x.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    rc, _, err = _run_validate(bad, tasks_dir, capsys)
    assert rc == 2 and "not a readable .tar.gz submission" in err


def test_manifest_hash_must_match(packed, tasks_dir, tmp_path, capsys):
    members = _members(packed)
    name = next(n for n in members if "samples_xtreme_xnli" in n)
    members[name] = members[name].replace(b'"acc": 1.0', b'"acc": 0.0', 1)
    rc, _, err = _run_validate(_repack(tmp_path / "t.tar.gz", members), tasks_dir, capsys)
    assert rc == 2 and "sha256 differs from the manifest" in err and name in err


def test_unlisted_member_is_refused(packed, tasks_dir, tmp_path, capsys):
    members = _members(packed)
    members["results/0000/extra.txt"] = b"hello"
    rc, _, err = _run_validate(_repack(tmp_path / "t.tar.gz", members), tasks_dir, capsys)
    assert rc == 2 and "'results/0000/extra.txt' is not listed" in err


def _resubmit(corpus_copy, tmp_path):
    out = tmp_path / "s.tar.gz"
    submission.submit([corpus_copy], out)
    return out


def test_version_must_match_the_installed_task(corpus, tmp_path, capsys):
    tasks = write_tasks_dir(tmp_path / "tasks", LANGS, version=2.0)
    rc, _, err = _run_validate(_resubmit(corpus, tmp_path), tasks, capsys)
    assert rc == 2 and "versions.xtreme_mlqa_de is 1.0" in err and "has version 2.0" in err


def test_language_coverage(corpus, tmp_path, capsys):
    langs = {"xnli": ["de", "fr", "sw", "zh"], "mlqa": ["de", "es"]}
    tasks = write_tasks_dir(tmp_path / "tasks", langs)
    rc, _, err = _run_validate(_resubmit(corpus, tmp_path), tasks, capsys)
    assert rc == 2 and "covers xnli in 3 languages; missing zh" in err


def test_value_range(corpus_copy, tmp_path, tasks_dir, capsys):
    folder = corpus_copy / "e5s-xnli-anli-s3"
    edit_results(
        results_file(folder), lambda d: d["results"]["xtreme_xnli_fr"].update({"acc,none": 1.5})
    )
    # refused by re-scoring (its samples give another value), already when packing
    with pytest.raises(LeaderboardError, match=r"xtreme_xnli_fr.acc,none is 1.5, but its samples"):
        _resubmit(corpus_copy, tmp_path)
    edit_results(
        results_file(folder),
        lambda d: d["results"]["xtreme_xnli_fr"].update({"acc,none": 0.75, "acc_stderr,none": 1.5}),
    )
    rc, _, err = _run_validate(_resubmit(corpus_copy, tmp_path), tasks_dir, capsys)
    assert rc == 2 and "xtreme_xnli_fr.acc stderr is 1.5, outside [0, 1]" in err


def test_duplicate_task_for_a_model(corpus_copy, tmp_path, tasks_dir, capsys):
    folder = corpus_copy / "e5s-xnli-anli-s3"
    src = results_file(folder)
    stamp = "2026-11-26T00-00-00.000000"
    (folder / f"results_{stamp}.json").write_text(src.read_text())
    for sample in folder.glob("samples_*.jsonl"):
        (folder / sample.name.replace(sample.name.rsplit("_", 1)[1], f"{stamp}.jsonl")).write_text(
            sample.read_text()
        )
    rc, _, err = _run_validate(_resubmit(corpus_copy, tmp_path), tasks_dir, capsys)
    assert rc == 2 and "duplicate xtreme_" in err and "for model 'e5s-xnli-anli-s3'" in err


def test_reference_task_hashes(packed, corpus_copy, tmp_path, tasks_dir, capsys):
    # Reference: a leaderboard built from different documents for one task.
    site = tmp_path / "ref"
    assert main(["build", str(corpus_copy), "--out", str(site), "--bootstrap", "20"]) == 0
    ref = tmp_path / "ref/leaderboard.json"
    data = json.loads(ref.read_text())
    for row in data["rows"]:
        if row["task"] == "xnli" and row["lang"] == "de":
            row["task_hash_clean"] = "a" * 64
    ref.write_text(json.dumps(data))
    capsys.readouterr()
    rc, _, err = _run_validate(packed, tasks_dir, capsys, "--reference", str(ref))
    assert rc == 2 and "task_hashes.xtreme_xnli_de" in err and "a" * 64 in err


def test_samples_and_provenance_are_required(corpus_copy, tmp_path, tasks_dir, capsys):
    folder = corpus_copy / "e5s-xnli-anli-s1"
    next(folder.glob("samples_xtreme_xnli_de_*.jsonl")).unlink()
    rc, _, err = _run_validate(_resubmit(corpus_copy, tmp_path), tasks_dir, capsys)
    assert rc == 2 and "xtreme_xnli_de has no per-sample file" in err
    assert rc == 2 and "--log_samples" in err


def test_submit_with_a_separate_provenance_card(corpus_copy, tmp_path, tasks_dir, capsys):
    folder = corpus_copy / "e5s-xnli-anli-s1"
    card = json.loads(results_file(folder).read_text())["config"]["xtreme_adv_model"]["provenance"]
    path = results_file(folder)
    edit_results(path, lambda d: d["config"]["xtreme_adv_model"].update(provenance=None))
    (tmp_path / "card.json").write_text(json.dumps(card))
    out = tmp_path / "one.tar.gz"
    assert main(["submit", str(folder), "--out", str(out)]) == 0
    rc, _, err = _run_validate(out, tasks_dir, capsys)
    assert rc == 2 and "has no provenance card" in err
    card_path = str(tmp_path / "card.json")
    assert main(["submit", str(folder), "--out", str(out), "--provenance", card_path]) == 0
    rc, out_text, err = _run_validate(out, tasks_dir, capsys)
    assert rc == 0, err
    assert "e5s-xnli-anli-s1" not in err


def test_validate_against_the_installed_harness_tasks(tmp_path, capsys):
    # The real task YAMLs of harness_tasks, found as files through importlib (not imported).
    from leaderboards.installed import default_task_dirs, installed_tasks
    from leaderboards.synthetic import SyntheticModel, write_results_folder

    dirs = default_task_dirs()
    xnli = sorted(
        t.split("_")[-1] for t in installed_tasks(dirs) if t.startswith("xtreme_xnli_")
    ) if dirs else []  # fmt: skip
    if not xnli:
        pytest.skip("harness_tasks/tasks has no xtreme_xnli YAMLs yet")
    model = SyntheticModel("real-tasks-s1", seed=1)
    write_results_folder(tmp_path / "r", model, [("xnli", xnli, ["charnoise"])], n_docs=8)
    out = tmp_path / "s.tar.gz"
    submission.submit([tmp_path / "r"], out)
    assert main(["validate", str(out)]) == 0, capsys.readouterr().err
    assert "installed task YAMLs" in capsys.readouterr().out
    write_results_folder(tmp_path / "r2", model, [("xnli", xnli[1:], ["charnoise"])], n_docs=8)
    submission.submit([tmp_path / "r2"], out)
    assert main(["validate", str(out)]) == 2
    assert f"missing {xnli[0]}" in capsys.readouterr().err
