"""Carrier keywords: a whole message of STOP, START or HELP is an instruction, not a conversation.

Pure. The message is compared as a whole after NFKC normalisation (so
full-width ``ＳＴＯＰ`` counts), trimming blanks and trailing or leading
punctuation (``stop!``, ``退订。``) and ignoring case. ``please stop`` is a
sentence for an agent, not a keyword.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


_KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "退订", "td"), Keyword.OPT_OUT),
    **dict.fromkeys(("start", "unstop", "yes"), Keyword.OPT_IN),
    "help": Keyword.HELP,
}
# Blanks and punctuation people put around a keyword; NFKC already turned ！？， into !?,
_TRIM = " \t\r\n\v\f\u00a0\u3000.!?,;:'\"。、…~-_*()[]"
_LONGEST = max(len(word) for word in _KEYWORDS)


def normalise_keyword_text(text: str) -> str:
    """The comparable form of a message: NFKC, trimmed of blanks and punctuation, case-folded."""
    return unicodedata.normalize("NFKC", text).strip(_TRIM).casefold()


def classify(text: str) -> Keyword | None:
    """The keyword ``text`` consists of, or None for an ordinary message."""
    if len(text) > 4 * _LONGEST + 16:  # long texts are never a bare keyword: skip the normalising
        return None
    return _KEYWORDS.get(normalise_keyword_text(text))
