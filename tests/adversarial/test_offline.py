"""`import textattack` works with no network and never calls nltk.download."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Installed before anything else in the child: any socket connection or nltk.download fails loudly.
GUARD = textwrap.dedent(
    """
    import socket
    def _no_network(*args, **kwargs):
        raise RuntimeError("network access attempted")
    socket.socket.connect = _no_network
    socket.create_connection = _no_network
    import nltk
    def _no_download(*args, **kwargs):
        raise RuntimeError("nltk.download called")
    nltk.download = _no_download
    """
)

CHILD = textwrap.dedent(
    """
    import os
    from adversarial.textattack_compat import textattack, language, AttackedText
    from textattack.constraints.pre_transformation import StopwordModification
    print("HF_HOME", os.environ.get("HF_HOME"))
    print("TA_CACHE_DIR", os.environ.get("TA_CACHE_DIR"))
    print("english", len(StopwordModification().stopwords))
    with language("hi"):
        print("words", AttackedText("हिन्दी भाषा").words)
    """
)


def test_textattack_imports_offline_from_a_fresh_home(tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NLTK", "TA_", "HF_"))}
    env.update(
        HOME=str(tmp_path / "home"),
        XTREME_ADV_CACHE=str(tmp_path / "cache"),
        PYTHONPATH=os.pathsep.join([str(guard), str(REPO)]),
    )
    env.pop("XDG_CACHE_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())
    # TextAttack's cache variable rewrite does not leak into the caller's environment.
    assert out["HF_HOME"] == "None" and out["TA_CACHE_DIR"] == "None"
    assert int(out["english"]) > 100  # nltk's English list, served from stopwordsiso
    assert out["words"] == "['हिन्दी', 'भाषा']"
    assert (tmp_path / "cache" / "textattack" / "post_install_check_3").exists()
    assert not (tmp_path / "home" / ".cache" / "textattack").exists()
    assert "nltk.download called" not in proc.stderr
