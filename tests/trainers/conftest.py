"""Fixtures for the trainers tests: tiny BERT encoders with the real XLM-R tokenizer.

``shared_data`` / ``xtreme_data_dir`` come from tests/conftest.py (skipped when absent).
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import pytest

# The Hub is unreachable here: make any accidental Hub access fail at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def xlmr_tokenizer_file() -> Path:
    """The real XLM-R tokenizer.json that semantra_multilingual ships."""
    root = importlib.resources.files("semantra_multilingual")
    return Path(str(root / "assets" / "multilingual-e5-small" / "tokenizer.json"))


def make_tiny_model(folder: Path, hidden: int = 32, layers: int = 2) -> Path:
    """Save a randomly initialised small BertModel with the XLM-R tokenizer into ``folder``."""
    import torch
    from transformers import BertConfig, BertModel, XLMRobertaTokenizerFast

    torch.manual_seed(0)
    tokenizer = XLMRobertaTokenizerFast(tokenizer_file=str(xlmr_tokenizer_file()))
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=514,
        pad_token_id=tokenizer.pad_token_id,
    )
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT encoder folder (XLM-R vocabulary, hidden size 32, 2 layers)."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def intermediate_dir(shared_data: Path) -> Path:
    """``../shared/data/intermediate`` (ANLI, CosmosQA, SocialIQA files)."""
    path = shared_data / "intermediate"
    if not path.is_dir():
        pytest.skip(f"intermediate-task data not found at {path}")
    return path
