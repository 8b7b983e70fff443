"""Where every benchmark writes its figures: one JSON file per benchmark under ``bench/results/``.

One writer so that every file is UTF-8 (Chinese text in scenarios stays
readable), indented the same way, and its folder exists on a fresh clone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def write_results(path: Path, document: dict[str, Any], *, announce: bool = True) -> None:
    """Write ``document`` to ``path`` as indented UTF-8 JSON (creating the folder); say so unless told not to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if announce:
        print(f"wrote {path}")
