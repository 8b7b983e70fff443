"""Text from outside (a gateway's ids and errors, a provider's answer) made storable in PostgreSQL.

PostgreSQL refuses NUL in text and jsonb, and lone surrogates (which a JSON
``"\\ud800"`` escape produces) cannot be encoded as UTF-8 at all. One such
character and every write of the value fails: a send's outcome is never
recorded and the message goes out again at every lease. So both become
U+FFFD, the same way wherever such text comes in, and an odd provider id
still matches between a send's answer and its receipts.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD; nothing else changes."""
    return _UNSTORABLE.sub("\ufffd", text)


def storable_json(value: object) -> object:
    """``value`` with every string in it, dict keys too, passed through ``storable_text``."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v) for v in value]
    return value
