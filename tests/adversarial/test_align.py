"""Offline code-switching lexicons aligned from XTREME's parallel data (SimAlign-style)."""

from __future__ import annotations

import json

import pytest

from adversarial.align import WordAligner, parallel_pairs
from adversarial.build import BuildRequest, build
from adversarial.cli import main
from adversarial.dictionaries import load_dictionary
from adversarial.segment import words

pytestmark = pytest.mark.shared_data


def test_parallel_pairs_follow_the_parallel_key(xtreme_data_dir):
    pairs = parallel_pairs("xnli", "de", str(xtreme_data_dir), limit=4)
    assert pairs[0][1].startswith("And he said, Mama, I'm home")
    assert pairs[0][0].startswith("und er hat gesagt, Mama ich bin daheim")
    tatoeba = parallel_pairs("tatoeba", "de", str(xtreme_data_dir), limit=2)
    assert tatoeba[0] == (
        "Maria sagte, sie wisse nicht, wo Tom sei.",
        "Mary said she didn't know where Tom was.",
    )


@pytest.mark.slow
def test_alignment_finds_translations_in_context(xtreme_data_dir):
    aligner = WordAligner("embedded:2")
    src, tgt = parallel_pairs("xnli", "de", str(xtreme_data_dir), limit=1)[0]
    links = set(aligner.align(src, tgt, "de"))
    assert {("gesagt", "said"), ("daheim", "home")} <= links
    for s, t in links:  # each link joins a word of the source and a word of the translation
        assert s in words(src, "de") and t in words(tgt, "en")


@pytest.mark.slow
def test_lexicon_cli_feeds_codeswitch_offline(tmp_path, xtreme_data_dir, capsys):
    folder = tmp_path / "lex"
    argv = ["lexicon", "--task", "xnli", "--langs", "hi", "--out", str(folder)]
    argv += ["--data-dir", str(xtreme_data_dir), "--limit", "24", "--model", "embedded:2"]
    assert main(argv) == 0
    assert "xnli-hi:" in capsys.readouterr().out
    table = load_dictionary(str(folder), "hi")
    assert len(table) > 20
    pairs = parallel_pairs("xnli", "hi", str(xtreme_data_dir), limit=24)
    english = {w.lower() for _, t in pairs for w in words(t, "en")}
    hindi = {w.lower() for s, _ in pairs for w in words(s, "hi")}
    for source, targets in table.items():
        assert source in hindi and set(targets) <= english
    request = BuildRequest(
        "xnli",
        "hi",
        "codeswitch",
        {"dictionary": str(folder), "min_similarity": 0},
        data_dir=str(xtreme_data_dir),
        limit=16,
    )
    manifest = json.loads(
        (build(request, root=tmp_path / "adv", progress=False) / "manifest.json").read_text(
            encoding="utf-8"
        )
    )
    edits = [e for ex in manifest["examples"] for e in ex["edits"]]
    assert edits
    for edit in edits:
        assert edit["perturbed"].lower() in table[edit["original"].lower()]
    assert manifest["validity_setup"]["resources"]["dictionary"]["entries"] == len(table)
