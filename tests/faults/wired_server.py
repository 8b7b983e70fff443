"""``python -m tests.faults.wired_server serve ...``: the real server, with the fault handling wired.

The same ``contactcenter`` command line, but ``build_app`` is followed by
``wire_fault_handling`` (a no-op for what the composition root already wires).
"""

from __future__ import annotations

from aiohttp import web

import contactcenter.server as server_module
from contactcenter.cli import main
from contactcenter.config import Settings
from contactcenter.db import Database
from tests.faults.wiring import wire_fault_handling

_build_app = server_module.build_app


def build_app(settings: Settings, db: Database) -> web.Application:
    app = _build_app(settings, db)
    wire_fault_handling(app)
    return app


if __name__ == "__main__":
    server_module.build_app = build_app
    raise SystemExit(main())
