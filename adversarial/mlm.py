"""Loading the masked LM of ``mlmswap``: a trained MLM head or a one-line refusal, at once.

``AutoModelForMaskedLM.from_pretrained`` accepts an encoder-only checkpoint (the embedded e5)
and silently draws a random head (``Mutter -> Www``); and a Hub id without network retries for
minutes before a long traceback. Here a checkpoint must bring every weight of its masked-LM
head, and a Hub id is looked up in the local cache first; without it and without the Hub the
user gets one line naming the parameter.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from harness_tasks.errors import XtremeAdvError

_HINT = "give --param mlm=<folder of a masked-LM checkpoint, e.g. xlm-roberta-base>"


def resolve_mlm(spec: str) -> Path:
    """The local folder of masked LM ``spec`` (a folder, or a Hub id already in the cache)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if path.exists() or spec.startswith((".", "/", "~")):
        raise XtremeAdvError(f"mlm {spec}: not a model folder; {_HINT}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or not a valid id): decide below
        pass
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or os.environ.get(
        "TRANSFORMERS_OFFLINE", ""
    ) not in ("", "0")
    if offline:
        raise XtremeAdvError(
            f"mlm {spec}: not a local folder, not in the Hugging Face cache, and the Hub is "
            f"offline (HF_HUB_OFFLINE); {_HINT}"
        )
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec, etag_timeout=10))
    except Exception as err:  # noqa: BLE001 - any Hub failure is one line for the user
        raise XtremeAdvError(
            f"mlm {spec}: cannot download from the Hub ({type(err).__name__}); {_HINT}"
        ) from None


def load_masked_lm(spec: str):
    """``(model, tokenizer)`` of masked LM ``spec``; a user error if its MLM head is missing."""
    import transformers
    from transformers import AutoModelForMaskedLM

    from harness_tasks.embedded.tokenizer import load_tokenizer

    folder = resolve_mlm(spec)
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # the missing-weights warning becomes our error
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(folder, output_loading_info=True)
    except (OSError, ValueError, KeyError) as err:
        raise XtremeAdvError(
            f"mlm {spec}: cannot load a masked LM ({err})".splitlines()[0]
        ) from None
    finally:
        transformers.logging.set_verbosity(verbosity)
    missing = sorted(info.get("missing_keys", []))
    if missing:
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise XtremeAdvError(
            f"mlm {spec}: the checkpoint has no trained masked-LM head ({len(missing)} weights "
            f"missing: {shown}); an encoder-only model would propose random words; {_HINT}"
        )
    return model, load_tokenizer(folder, use_fast=True)


@functools.cache
def mlm_identity(spec: str) -> dict:
    """``spec`` with the SHA-256 of its weight files (sorted by name), for manifest and work key."""
    folder = resolve_mlm(spec)
    digest = hashlib.sha256()
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not files:
        raise XtremeAdvError(f"mlm {spec}: no weight files (*.safetensors, *.bin) in {folder}")
    _check_head_weights(spec, files)
    for file in files:
        digest.update(file.name.encode("utf-8"))
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return {"spec": spec, "sha256": digest.hexdigest()}


# Weight-name parts of masked-LM heads: BERT/XLM-R/DeBERTa/DistilBERT/ELECTRA-generator.
_HEAD_KEYS = ("lm_head", "cls.predictions", "vocab_projector", "generator_lm_head", "predictions.")


def _check_head_weights(spec: str, files: list[Path]) -> None:
    """Refuse early (before any data is read) a safetensors checkpoint without head weights;
    :func:`load_masked_lm` checks every head weight when the model is loaded."""
    if files[0].suffix != ".safetensors":
        return
    from safetensors import safe_open

    names = []
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            names.extend(handle.keys())
    if not any(part in name for name in names for part in _HEAD_KEYS):
        raise XtremeAdvError(
            f"mlm {spec}: the checkpoint has no trained masked-LM head (no lm_head/"
            f"cls.predictions weights in {files[0].name}); an encoder-only model would propose "
            f"random words; {_HINT}"
        )
