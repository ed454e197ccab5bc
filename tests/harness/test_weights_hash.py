"""The weights hash names adaptive sets and embedding caches: memoised per process, it must
still change whenever the bytes do (a checkpoint rewritten in place, or replaced)."""

from __future__ import annotations

import hashlib
import os

from harness_tasks.weights import weights_sha256


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_hash_follows_the_bytes_through_rewrites_and_replacements(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"a" * 4096)
    assert weights_sha256(tmp_path) == _sha(b"a" * 4096)
    assert weights_sha256(tmp_path) == _sha(b"a" * 4096)  # memoised: same answer

    # Same size, rewritten in place: another mtime, another hash.
    stat = weights.stat()
    weights.write_bytes(b"b" * 4096)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert weights_sha256(tmp_path) == _sha(b"b" * 4096)

    # Replaced by another file carrying the old size and mtime: another inode.
    new = tmp_path / "new.bin"
    new.write_bytes(b"c" * 4096)
    stat = weights.stat()
    os.utime(new, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(new, weights)
    assert weights_sha256(tmp_path) == _sha(b"c" * 4096)

    # A second shard joins the folder: hashed over both, in name order.
    (tmp_path / "model-2.safetensors").write_bytes(b"d")
    assert weights_sha256(tmp_path) == _sha(b"d" + b"c" * 4096)
    assert weights_sha256(tmp_path / "missing") is None
