"""Submissions that cannot lie: links, bounded memory, build = validate, replacing models, CSV."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from leaderboards import submission
from leaderboards.cli import main
from leaderboards.errors import LeaderboardError
from leaderboards.report import to_csv
from leaderboards.synthetic import SyntheticModel, seed_set, write_results_folder, write_tasks_dir

from .test_submission import _members, _repack


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    out = tmp_path_factory.mktemp("pair")
    plan = [("xnli", ["de"], ["charnoise"])]
    for m in seed_set("direct", [1], 0.8, 0.7) + seed_set("intermediate", [1], 0.8, 0.85):
        write_results_folder(out, m, plan, n_docs=40)
    return out


def test_submit_never_packs_a_symbolic_link(pair, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2")
    folder = tmp_path / "res"
    import shutil

    shutil.copytree(pair, folder)
    model = folder / "e5s-xnli-direct-s1"
    (model / "provenance.json").symlink_to(secret)
    with pytest.raises(LeaderboardError, match="symbolic link"):
        submission.submit([folder], tmp_path / "s.tar.gz")
    assert not (tmp_path / "s.tar.gz").exists()
    # a samples file that is a link is refused too
    (model / "provenance.json").unlink()
    sample = next(model.glob("samples_xtreme_xnli_de_*.jsonl"))
    real = tmp_path / "real.jsonl"
    sample.rename(real)
    sample.symlink_to(real)
    with pytest.raises(LeaderboardError, match="symbolic link"):
        submission.submit([folder], tmp_path / "s.tar.gz")


def test_build_checks_what_validate_checks(pair, tmp_path, capsys):
    packed = submission.submit([pair], tmp_path / "s.tar.gz")
    assert packed["models"]
    members = _members(tmp_path / "s.tar.gz")
    name = next(n for n in members if n.endswith(".jsonl"))
    members[name] = members[name].replace(b'"acc": 0.0', b'"acc": 1.0', 1)  # tampered sample
    bad = _repack(tmp_path / "bad.tar.gz", members)
    assert main(["build", str(bad), "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert "sha256 differs from the manifest" in err and err.count("\n") == 1
    assert not (tmp_path / "site").exists()


def test_an_oversized_member_is_refused_before_it_is_read(tmp_path):
    # A 2.9 GB member declared in the header: refused from the header, memory stays small.
    path = tmp_path / "bomb.tar.gz"
    info = tarfile.TarInfo("results/0000/samples_x.jsonl")
    info.size = 300 * 1024 * 1024
    with gzip.open(path, "wb") as gz:  # the header alone: a reader that trusted it would read
        gz.write(info.tobuf(tarfile.PAX_FORMAT) + b"\0" * 4096)
    code = (
        "import resource, sys\n"
        "from leaderboards.submission import read_archive\n"
        "from leaderboards.errors import LeaderboardError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    read_archive(sys.argv[1])\nexcept LeaderboardError as e:\n    print(e)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    message, rss_kb = proc.stdout.strip().splitlines()
    assert "over the limit" in message
    assert int(rss_kb) < 16 * 1024  # peak memory grew by less than 16 MB


def test_large_members_are_spooled_to_disk_and_parsed_as_streams(tmp_path):
    data = b"".join(b'{"doc": {"id": "%d"}, "acc": 1.0}\n' % i for i in range(60000))
    member = submission.Member.of(data)
    assert member.size == len(data) > submission.SPOOL_BYTES
    assert member.fh._rolled  # on disk, not in memory
    assert sum(1 for _ in member.lines()) == 60000


def test_a_submission_may_not_replace_a_model_on_the_board(pair, tmp_path, capsys):
    site = tmp_path / "site"
    assert main(["build", str(pair), "--out", str(site), "--bootstrap", "20"]) == 0
    capsys.readouterr()
    # Another checkpoint claims the id of a model already on the board (same card, new weights).
    impostor = SyntheticModel("e5s-xnli-direct-s1", skill=0.8, robustness=0.01)
    folder = tmp_path / "imp"
    path = write_results_folder(folder, impostor, [("xnli", ["de"], ["charnoise"])], n_docs=40)
    data = json.loads(path.read_text())
    data["config"]["xtreme_adv_model"]["weights_sha256"] = "f" * 64
    data["config"]["xtreme_adv_model"]["provenance"]["weights_sha256"] = "f" * 64
    data["date"] += 86400 * 3
    path.write_text(json.dumps(data))
    sub = tmp_path / "imp.tar.gz"
    submission.submit([folder], sub)
    tasks = write_tasks_dir(tmp_path / "tasks", {"xnli": ["de"]})
    rc = main(
        ["validate", str(sub), "--tasks-dir", str(tasks), "--reference",
         str(site / "leaderboard.json")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "is already on" in err and "weights_sha256" in err
    # and build refuses to merge it with the original results
    assert main(["build", str(pair), str(sub), "--out", str(tmp_path / "s2")]) == 2
    err = capsys.readouterr().err
    assert "'e5s-xnli-direct-s1'" in err and "differs from" in err


@pytest.mark.parametrize("cell", ["=1+1", "+cmd", '-5 =HYPERLINK("x")', "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(cell):
    text = to_csv(
        [{"model": cell, "clean": 0.5, "drop_ci": [-0.1, 0.2]}], ["model", "clean", "drop_ci"]
    )
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["model", "clean", "drop_ci_low", "drop_ci_high"]
    assert rows[1][0] == "'" + cell.replace("\r", " ")
    assert len(rows) == 2
    assert rows[1][2:] == ["-0.1", "0.2"]  # numbers stay numbers, one column per bound


def test_numbers_in_text_cells_are_left_alone():
    text = to_csv([{"model": "-0.5"}], ["model"])
    assert list(csv.reader(io.StringIO(text)))[1] == ["-0.5"]
    assert os.sep  # (no file written)
