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
    for source, targets in table.items():  # phrases: every word from the aligned texts
        assert set(source.split()) <= hindi
        assert {w for t in targets for w in t.split()} <= english
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
    # Phrase-level code-mixing: aligned 2-3 word phrases are swapped whole.
    assert any(" " in key for key in table)
    phrases = [e for e in edits if " " in e["original"]]
    assert phrases and all(" " in e["perturbed"] for e in phrases)
    assert manifest["validity_setup"]["resources"]["dictionary"]["entries"] == len(table)


def test_phrase_pairs_are_swapped_whole_and_never_across_punctuation(tmp_path):
    from adversarial.engine import Perturber
    from adversarial.recipes import get_family, resolve_params

    path = tmp_path / "de-en.txt"
    lines = ["einen bestimmten ort\ta designated place", "gesagt mama\tsaid mom", "ort place"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    params = resolve_params(
        get_family("codeswitch"), {"dictionary": str(path), "min_similarity": 0, "max_ratio": 1}
    )
    perturber = Perturber("xnli", "de", "codeswitch", params, seed=0)
    text = "Ich habe gesagt, Mama, ich suche einen bestimmten Ort nicht."
    doc = {"id": "x", "premise": text, "hypothesis": "Nein.", "label": 0}
    (edit,) = perturber.plan(doc, 0).fields[0].edits
    assert text[edit[0] : edit[1]] == "einen bestimmten Ort" and edit[2] == "a designated place"
