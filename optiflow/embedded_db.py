"""The embedded PostgreSQL used when ``DATABASE_URL`` is unset.

A fresh machine with only Python gets a real PostgreSQL server from the ``pgserver`` wheel,
with its data under ``.local/pgdata/`` (git-ignored). The server is shared by every process
that asks for it (server workers, test runs, management commands) and keeps running between
commands, so the second ``make run`` or ``make test`` starts instantly.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / ".local" / "pgdata"


def embedded_database_url() -> str:
    """Start (or reuse) the embedded server and return a ``postgresql://`` URL for it.

    The URL is also exported as ``DATABASE_URL`` so that child processes (test servers,
    server workers) reach the same server without starting their own.
    """
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on servers
        warnings.simplefilter("ignore")
        import pgserver

    DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(DATA_DIR, cleanup_mode=None)
    url = server.get_uri()
    os.environ["DATABASE_URL"] = url
    return url


def embedded_database_stop() -> bool:
    """Stop the embedded server if it runs (``make stop``); whether it was running. Its data
    stays in ``DATA_DIR`` for the next start."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    if not (DATA_DIR / "postmaster.pid").exists():
        return False
    # pgserver runs PostgreSQL as a user of its own when started by root, which refuses root.
    user = "pgserver" if os.name == "posix" and os.geteuid() == 0 else None
    try:
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=DATA_DIR, user=user)
    except subprocess.CalledProcessError:  # a stale pid file: nothing runs
        return False
    return True
