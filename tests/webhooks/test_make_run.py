"""``make run`` serves the API and runs a task-queue worker under one command (honcho and the
``Procfile``), and one Ctrl-C (SIGINT) stops both (SPEC §8.10, §10). In a module of its own:
no other worker may be running, so the delivery proves the Procfile's worker works."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import test_database_url
from tests.inventory.factories import ProductFactory
from tests.servers import ROOT, free_port, queue_clear, wait_until_serving
from tests.webhooks.conftest import adjust, wait_until


def test_the_procfile_runs_web_and_worker_and_one_sigint_stops_both(
    committed_tenant, hooks_for, receiver
):
    hooks = hooks_for(committed_tenant, receiver.url, ["stock.adjusted"])
    port, bin_dir = free_port(), Path(sys.executable).parent
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",  # as `make run` sets it
        "DATABASE_URL": test_database_url(),
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "2",
        "OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE": "1",
        "OPTIFLOW_WEBHOOKS_ALLOW_HTTP": "1",
    }
    queue_clear()
    with tempfile.TemporaryFile() as log:
        honcho = subprocess.Popen(
            [bin_dir / "honcho", "start", "--port", str(port), "--no-colour"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=log,
        )
        try:
            wait_until_serving(f"http://127.0.0.1:{port}", honcho, log)
            adjust(hooks, ProductFactory().pk, 1)
            wait_until(lambda: len(receiver.accepted) == 1, what="a delivery by the worker")
        finally:
            honcho.send_signal(signal.SIGINT)
            honcho.wait(timeout=60)
        log.seek(0)
        output = log.read().decode()

    pids = {int(pid) for pid in re.findall(r"(?:web|worker)\.1 started \(pid=(\d+)\)", output)}
    assert len(pids) == 2, output
    # Honcho starts each in a process group of its own: nothing of them may be left running.
    assert living_members_of(pids) == [], output
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)


def living_members_of(groups: set[int]) -> list[str]:
    """Processes of these process groups that still run (zombies are dead, just not yet
    reaped by whatever init this machine has)."""
    living = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        state, group = fields[0], int(fields[2])
        if group in groups and state != "Z":
            living.append(stat.parent.name)
    return living
