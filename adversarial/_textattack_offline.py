"""Import TextAttack 0.3.11 with no network and no ``nltk.download``.

TextAttack's first import runs ``nltk.download`` for several corpora unless a marker file exists,
and ``textattack.augmentation.recipes`` reads nltk's English stopwords at module level, which
raises ``LookupError`` when the corpus is absent (see docs/adversarial.md). Before importing it we

* create the post-install marker under the project's cache (``TA_CACHE_DIR``), restoring the
  cache variables TextAttack overwrites when that variable is set (``HF_HOME``, ...);
* write an nltk ``corpora/stopwords/`` folder from the ``stopwordsiso`` package (one file per
  nltk language name and per ISO 639-1 code) and put it on ``nltk.data.path``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import ModuleType

# The cache variables ``textattack.shared.utils.install.set_cache_dir`` overwrites.
_OVERWRITTEN = ("TFHUB_CACHE_DIR", "PYTORCH_TRANSFORMERS_CACHE", "HF_HOME", "XDG_CACHE_HOME")
_MARKER = "post_install_check_3"

# nltk's stopword file names for the languages it ships, by ISO 639-1 code.
NLTK_NAMES = {
    "ar": "arabic",
    "az": "azerbaijani",
    "bn": "bengali",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "he": "hebrew",
    "hu": "hungarian",
    "id": "indonesian",
    "it": "italian",
    "kk": "kazakh",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sl": "slovene",
    "sv": "swedish",
    "tg": "tajik",
    "tr": "turkish",
    "zh": "chinese",
}


def cache_dir() -> Path:
    """Return the project's cache folder (``$XTREME_ADV_CACHE`` or ``~/.cache/xtreme-adv``)."""
    root = os.environ.get("XTREME_ADV_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "xtreme-adv"
    )
    return Path(root)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_nltk_stopwords(nltk_data: Path) -> Path:
    """Write ``<nltk_data>/corpora/stopwords/`` from stopwordsiso; return the folder."""
    import stopwordsiso

    folder = nltk_data / "corpora" / "stopwords"
    done = folder / ".complete"
    if done.exists():
        return folder
    for code in sorted(stopwordsiso.langs()):
        words = "\n".join(sorted(stopwordsiso.stopwords(code))) + "\n"
        _atomic_write(folder / code, words)
        if code in NLTK_NAMES:
            _atomic_write(folder / NLTK_NAMES[code], words)
    _atomic_write(done, "stopwordsiso\n")
    return folder


def prepare() -> None:
    """Make the marker and the stopwords corpus exist; idempotent and safe to call often."""
    import nltk

    ta_dir = Path(os.environ.get("TA_CACHE_DIR") or cache_dir() / "textattack")
    marker = ta_dir / _MARKER
    if not marker.exists():
        _atomic_write(marker, "")
    nltk_data = cache_dir() / "nltk_data"
    write_nltk_stopwords(nltk_data)
    if str(nltk_data) not in nltk.data.path:
        nltk.data.path.append(str(nltk_data))
    os.environ.setdefault("TA_CACHE_DIR", str(ta_dir))


def import_textattack() -> ModuleType:
    """Import ``textattack`` offline; the caller's cache variables are left as they were."""
    import sys

    if "textattack" in sys.modules:
        return sys.modules["textattack"]
    # Fix the Hugging Face libraries' cache paths before TextAttack rewrites the variables.
    import datasets  # noqa: F401
    import huggingface_hub  # noqa: F401
    import transformers  # noqa: F401

    saved = {name: os.environ.get(name) for name in (*_OVERWRITTEN, "TA_CACHE_DIR")}
    prepare()
    try:
        import textattack
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return textattack
