"""Encoder defaults: batch size, XTREME's retrieval layer per base model (recorded with the
prefix), and tokenizer loads without transformers' spurious Mistral regex warning."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from harness_tasks.adapter.checkpoint import EncoderCheckpoint
from harness_tasks.cli_eval import ENCODER_BATCH_SIZE, with_encoder_batch_size
from harness_tasks.data import LOADED
from harness_tasks.embedded.tokenizer import load_tokenizer
from harness_tasks.errors import XtremeAdvError
from harness_tasks.families import FAMILIES

SENTENCES = [
    "Der Bahnhof ist dort drüben.",
    "辽宁省，简称辽，中國的一个省。",
    "ผู้หญิงคนนั้นสูญเสียการทรงตัว",
    "அந்தப் பெண் சமநிலையை இழந்தாள்.",
    "Он сказал: «don't» — 123,456.78!",
    "مرحبا بالعالم",
]


def test_encoder_batch_size_default_only_when_not_given():
    base = ["run", "--model", "xtreme-encoder", "--tasks", "xtreme_xnli_de"]
    assert with_encoder_batch_size(base)[-2:] == ["--batch_size", str(ENCODER_BATCH_SIZE)]
    assert with_encoder_batch_size([*base, "--batch_size", "1"]) == [*base, "--batch_size", "1"]
    assert with_encoder_batch_size([*base, "-b=8"]) == [*base, "-b=8"]
    hf = ["run", "--model", "hf", "--tasks", "xtreme_xnli_de"]
    assert with_encoder_batch_size(hf) == hf  # lm-eval's own models keep lm-eval's default
    assert with_encoder_batch_size(["ls", "tasks"]) == ["ls", "tasks"]


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_tokenizer_loads_without_the_mistral_warning_and_tokenizes_the_same(
    embedded_model_dir_small,
):
    from transformers import AutoTokenizer

    records = _Records()
    logger = logging.getLogger("transformers")  # transformers' own root (does not propagate)
    logger.addHandler(records)
    try:
        plain = AutoTokenizer.from_pretrained(embedded_model_dir_small)
        warned = [m for m in records.messages if "incorrect regex pattern" in m]
        assert warned  # the warning this removes
        records.messages.clear()
        quiet = load_tokenizer(embedded_model_dir_small)
        assert not [m for m in records.messages if "incorrect regex pattern" in m]
    finally:
        logger.removeHandler(records)
    assert quiet(SENTENCES)["input_ids"] == plain(SENTENCES)["input_ids"]
    assert [quiet.tokenize(s) for s in SENTENCES] == [plain.tokenize(s) for s in SENTENCES]


@pytest.fixture(scope="module")
def mbert_shaped(tmp_path_factory, embedded_model_dir):
    """The 12-layer embedded model with a card naming mBERT as its base (weights linked)."""
    folder = tmp_path_factory.mktemp("mbert_card")
    for item in embedded_model_dir.iterdir():
        if item.suffix == ".safetensors":
            (folder / item.name).symlink_to(item)
        elif item.is_file():
            shutil.copy(item, folder / item.name)
    card = json.loads((folder / "provenance.json").read_text())
    card["base_model"] = {"name": "google-bert/bert-base-multilingual-cased", "sha256": "x"}
    (folder / "provenance.json").write_text(json.dumps(card))
    return folder


def test_retrieval_layer_default_per_known_base_model_and_recorded(
    mbert_shaped, embedded_model_dir, monkeypatch
):
    import torch

    monkeypatch.setenv("XTREME_ADV_EMBED_CACHE", "off")
    known = EncoderCheckpoint(mbert_shaped, batch_size=8)
    assert known.retrieval_layer == 8  # run_tatoeba.sh's --specific_layer 7 for mBERT
    assert "bert-base-multilingual-cased" in known.retrieval_layer_source
    # The vectors are hidden_states[8], mean-pooled and normalised.
    model = known.model("retrieval")
    enc = known.tokenizer([known.retrieval_prefix + SENTENCES[0]], return_tensors="pt")
    with torch.inference_mode():
        layer = model(**enc, output_hidden_states=True).hidden_states[8][0]
    expected = layer.mean(0) / layer.mean(0).norm()
    assert np.allclose(known.embed(SENTENCES[:1])[0], expected.numpy(), atol=1e-5)
    # Unknown base (e5): the last layer; a given layer wins; out of range is a user error.
    assert EncoderCheckpoint(embedded_model_dir).retrieval_layer == -1
    assert EncoderCheckpoint(mbert_shaped, retrieval_layer=3).retrieval_layer == 3
    with pytest.raises(XtremeAdvError, match="retrieval_layer=14 is out of range"):
        EncoderCheckpoint(mbert_shaped, retrieval_layer=14)
    # Layer, where it came from, and prefix are recorded for the task.
    docs = [
        {"id": "src-0", "sentence": SENTENCES[0], "side": "source", "gold": "tgt-0"},
        {"id": "tgt-0", "sentence": "The station is over there.", "side": "target", "gold": ""},
    ]
    known.retrieve(FAMILIES["tatoeba"], docs, task_name="xtreme_tatoeba_de")
    assert LOADED["xtreme_tatoeba_de"]["retrieval"] == {
        "layer": 8,
        "layer_source": known.retrieval_layer_source,
        "prefix": "query: ",
    }
