"""Benchmark of the server edge: 4 kept-alive clients against ``make run``'s server shape
(``uwsgi.ini``: the HTTP router and 2 workers × 4 threads), and each worker's share of the
CPU they used.

Why this number: with servers where each worker accepts its own connections, a kept-alive
connection stays on the worker that accepted it, and a few clients can all land on one worker:
one core does the work while the other idles (measured with gunicorn: 99 % on one worker in 4
of 7 trials). Behind uWSGI's router every request goes to whichever worker is free, so the
shares stay near 50 %. The run fails (exit status 1) if any worker did more than 70 %.

Run it with ``make bench`` (or ``.venv/bin/python -m bench.server [--seconds N]``). It uses
the database the settings give (``DATABASE_URL``, else the embedded PostgreSQL), migrated, and
the ``bench`` tenant of ``bench.api`` (provisioned if missing; its data need not be seeded).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.common import free_port, log, percentile, setup_django, start_server, stop_server

setup_django()

# ruff: noqa: E402
from django.core.management import call_command

from bench.api import SLUG, bench_tenant

CLIENTS = 4
WORKERS = 2
MAX_SHARE = 70.0
PATHS = [f"/t/{SLUG}/api/v1/me", f"/t/{SLUG}/api/v1/contacts?per_page=15"]
SPAWNED = re.compile(rb"spawned uWSGI (worker \d+|http \d+) \(pid: (\d+)")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes(log_file) -> dict[str, int]:
    """``{"worker 1": pid, "worker 2": pid, "http 1": pid}`` from the server's log."""
    log_file.seek(0)
    return {name.decode(): int(pid) for name, pid in SPAWNED.findall(log_file.read())}


def wait_until_ready(port: int, token: str, log_file) -> None:
    """Until every worker has loaded the application: a request to each path, answered."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            for path in PATHS * WORKERS * 2:
                connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise SystemExit(f"GET {path}: {response.status}")
            if len([name for name in processes(log_file) if name.startswith("worker")]) == WORKERS:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def client(port: int, token: str, stop_at: float, latencies: list[float], errors: list) -> None:
    """One connection for the whole run, as an HTTP client pool keeps it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    kept = connection.sock
    n = 0
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        connection.request("GET", PATHS[n % 2], headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            errors.append(response.status)
        n += 1
    if connection.sock is not kept:
        errors.append("reconnected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the run")
    seconds = parser.parse_args().seconds

    call_command("migrate_schemas", verbosity=0)
    _, token = bench_tenant()
    port = free_port()
    with tempfile.TemporaryFile() as log_file:
        env = {"WEB_CONCURRENCY": str(WORKERS), "OPTIFLOW_RATE_LIMIT_USER": "1000000/min"}
        server = start_server(port, env, log_file)
        try:
            log(f"Starting the server ({WORKERS} workers × 4 threads behind the router)...")
            wait_until_ready(port, token, log_file)
            pids = processes(log_file)
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            latencies: list[float] = []
            errors: list = []
            stop_at = time.monotonic() + seconds
            log(f"{CLIENTS} kept-alive clients for {seconds:.0f} s...")
            threads = [
                threading.Thread(target=client, args=(port, token, stop_at, latencies, errors))
                for _ in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        finally:
            stop_server(server)

    if errors:
        raise SystemExit(f"errors: {errors[:10]}")
    workers = {name: cpu for name, cpu in used.items() if name.startswith("worker")}
    total = sum(workers.values())
    print(f"{CLIENTS} kept-alive clients, {seconds:.0f} s, GET {' and '.join(PATHS)}")
    print(
        f"{len(latencies)} requests, {len(latencies) / seconds:.0f}/s; latency ms p50 "
        f"{statistics.median(latencies):.1f}, p95 {percentile(latencies, 95):.1f}\n"
    )
    print(f"{'process':<10} {'CPU s':>7} {'share of workers':>17}")
    for name, cpu in sorted(used.items()):
        share = f"{100 * cpu / total:.0f} %" if name in workers else "(router)"
        print(f"{name:<10} {cpu:>7.2f} {share:>17}")
    busiest = max(100 * cpu / total for cpu in workers.values())
    if busiest > MAX_SHARE:
        raise SystemExit(f"\none worker did {busiest:.0f} % of the work (limit {MAX_SHARE:.0f} %)")


if __name__ == "__main__":
    main()
