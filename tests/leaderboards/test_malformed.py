"""Malformed inputs: one clear line naming the file, exit 2, and never a partial site."""

from __future__ import annotations

import json
import math

import pytest

from leaderboards.cli import main

from .conftest import edit_results, results_file

MODEL = "e5s-xnli-direct-s1"


def _truncate(folder):
    path = results_file(folder)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    return path


def _other_version(folder):
    edit_results(results_file(folder), lambda d: d.update(lm_eval_version="0.4.11"))
    return results_file(folder)


def _missing_twin(folder):
    def change(d):
        for key in ("results", "versions", "n-samples", "configs"):
            d[key].pop("xtreme_adv_xnli_visual_fr")

    edit_results(results_file(folder), change)
    return results_file(folder)


def _nan_metric(folder):
    # lm-eval's json.dumps writes float('nan') as the bare token NaN.
    edit_results(results_file(folder), lambda d: d["results"]["xtreme_xnli_de"].update(
        {"acc,none": math.nan}))  # fmt: skip
    return results_file(folder)


def _hash_mismatch(folder):
    edit_results(results_file(folder), lambda d: d["task_hashes"].update(xtreme_xnli_fr="0" * 64))
    return results_file(folder)


def _nan_sample(folder):
    path = next(folder.glob("samples_xtreme_xnli_de_*.jsonl"))
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace('"acc": 1.0', '"acc": NaN').replace('"acc": 0.0', '"acc": NaN')
    path.write_text("\n".join(lines) + "\n")
    return path


def _deep_nesting(folder):
    path = next(folder.glob("samples_xtreme_xnli_fr_*.jsonl"))
    path.write_text("[" * 200_000 + "]" * 200_000 + "\n")
    return path


CASES = {
    "hostile nesting": (_deep_nesting, "line 1: JSON nested too deeply"),
    "truncated JSON": (_truncate, "not valid JSON"),
    "another lm-eval version": (_other_version, "lm_eval_version is '0.4.11', expected 0.4.13"),
    "missing adversarial twin": (_missing_twin, "no adversarial twin xtreme_adv_xnli_visual_fr"),
    "NaN metric": (_nan_metric, "results.xtreme_xnli_de.acc,none is nan"),
    "mismatched task hash": (_hash_mismatch, "task_hashes.xtreme_xnli_fr is 0000"),
    "NaN per-sample metric": (_nan_sample, "line 4: acc is nan"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_results_give_one_line_naming_the_file_and_no_site(case, corpus_copy, tmp_path, capsys):
    damage, message = CASES[case]
    bad_file = damage(corpus_copy / MODEL)
    site = tmp_path / "site"
    rc = main(["build", str(corpus_copy), "--out", str(site), "--bootstrap", "50"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("xtreme-adv leaderboard: error: ")
    assert str(bad_file) in err
    assert message in err
    assert "Traceback" not in err
    assert not site.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site")]  # no temp left


def test_a_failed_build_leaves_the_previous_site_untouched(corpus_copy, tmp_path, capsys):
    site = tmp_path / "site"
    assert main(["build", str(corpus_copy), "--out", str(site), "--bootstrap", "50"]) == 0
    before = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    _truncate(corpus_copy / MODEL)
    assert main(["build", str(corpus_copy), "--out", str(site), "--bootstrap", "50"]) == 2
    after = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert before == after
    capsys.readouterr()


def test_hashes_must_agree_between_models(corpus_copy, tmp_path, capsys):
    # Two models evaluated on different documents for the same task are not comparable.
    other = corpus_copy / "e5s-xnli-direct-s2"
    path = next(other.glob("samples_xtreme_xnli_de_*.jsonl"))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[0]["doc_hash"] = "f" * 64
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    from leaderboards.results import task_hash_of

    edit_results(
        results_file(other), lambda d: d["task_hashes"].update(xtreme_xnli_de=task_hash_of(lines))
    )
    rc = main(["build", str(corpus_copy), "--out", str(tmp_path / "site"), "--bootstrap", "50"])
    err = capsys.readouterr().err
    assert rc == 2 and "task_hashes.xtreme_xnli_de" in err and "different documents" in err
    assert not (tmp_path / "site").exists()


def test_refuses_to_replace_a_folder_that_is_not_a_site(corpus, tmp_path, capsys):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("keep me")
    assert main(["build", str(corpus), "--out", str(precious), "--bootstrap", "50"]) == 2
    assert "not a leaderboard site" in capsys.readouterr().err
    assert (precious / "thesis.tex").read_text() == "keep me"


def test_missing_input_and_bad_arguments(tmp_path, capsys):
    assert main(["build", str(tmp_path / "nope"), "--out", str(tmp_path / "s")]) == 2
    assert "nope: no such file or folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["build", str(empty), "--out", str(tmp_path / "s")]) == 2
    assert "no lm-eval results_*.json found" in capsys.readouterr().err
    assert main(["build"]) == 2
    assert "required" in capsys.readouterr().err
