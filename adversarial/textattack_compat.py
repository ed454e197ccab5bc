"""TextAttack, imported offline, with its word splitter made language-aware.

``AttackedText`` splits text with ``words_from_text``, which drops combining marks and cannot
segment Thai or Japanese. Rather than fork TextAttack we replace that one function (in the two
modules that bound it) by a wrapper that uses :func:`adversarial.segment.words` while a language
is active (``with language("th"): ...``) and TextAttack's own splitter otherwise.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from adversarial._textattack_offline import import_textattack
from adversarial.segment import words as segment_words

textattack = import_textattack()

import textattack.shared.attacked_text as _attacked_text  # noqa: E402
import textattack.shared.utils.strings as _strings  # noqa: E402

_LANG: contextvars.ContextVar[str | None] = contextvars.ContextVar("xtreme_adv_lang", default=None)
_ORIGINAL = _strings.words_from_text


def words_from_text(s: str, words_to_ignore: list[str] | tuple = ()) -> list[str]:
    """TextAttack's ``words_from_text``, segmenting by the active language when one is set."""
    lang = _LANG.get()
    if lang is None:
        return _ORIGINAL(s, list(words_to_ignore))
    return [w for w in segment_words(s, lang) if w not in words_to_ignore]


def _install() -> None:
    for module in (_attacked_text, _strings, textattack.shared.utils):
        module.words_from_text = words_from_text


_install()


@contextlib.contextmanager
def language(lang: str) -> Iterator[None]:
    """Within this block TextAttack splits words the way ``lang`` needs."""
    token = _LANG.set(lang)
    try:
        yield
    finally:
        _LANG.reset(token)


AttackedText = textattack.shared.AttackedText
