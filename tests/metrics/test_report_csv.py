"""The daily report's CSV (``to_csv``): cells a spreadsheet would run as a formula are neutralised.

Names come from agents and customers; a login like ``=cmd|...`` must reach
Excel as text, not as a formula (CSV injection), while numbers stay numbers.
"""

from __future__ import annotations

import csv
import io

from contactcenter.api.reports_api import AGENT_COLUMNS, to_csv


def test_names_that_look_like_formulas_are_prefixed() -> None:
    rows = [
        {"date": "2024-05-01", "agent_id": "x", "login": login, "display_name": name, "answered": -1}
        for login, name in (("=cmd|' /C calc'!A0", "王芳"), ("+1", "-2+3"), ("@SUM(A1)", "\t=1"), ("ok", "李雷"))
    ]
    raw = to_csv(AGENT_COLUMNS, rows)
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    parsed = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    cells = [(p["login"], p["display_name"]) for p in parsed]
    assert cells == [("'=cmd|' /C calc'!A0", "王芳"), ("'+1", "'-2+3"), ("'@SUM(A1)", "'\t=1"), ("ok", "李雷")]
    assert [p["answered"] for p in parsed] == ["-1"] * 4  # numbers are left alone
