"""The README runs as written: its ``sh`` blocks, in order, in one bash shell, against a live
web server (``uwsgi.ini``) on the test database with a freshly seeded demo tenant, as after
``make run``.

The one substitution is the server's address: the README's first block sets
``SERVER=http://127.0.0.1:8000``, which becomes the test server's. ``DJANGO_SECRET_KEY`` is
not exported to the shell, so the ``manage.py`` commands find the checkout's generated key as
a reader's would. curl reads a ``.curlrc`` that makes any answer but a 2xx fail the run
(``--fail-with-body``); ``bash -e -o pipefail`` stops at the first failing command. Blocks that
must not run here (``make run`` itself) are fenced ``console`` or ``text``.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import textwrap

import pytest
from django.core.management import call_command
from django.db import connection

from optiflow.management.commands.seed_demo import SLUG
from tenants.models import Tenant
from tests.conftest import test_database_url
from tests.servers import ROOT, queue_clear, web_servers

README = ROOT / "README.md"
#: A ``sh`` block, at the top level or indented under a list item.
SHELL_BLOCK = re.compile(r"^( *)```sh\n(.*?)^\1```$", re.DOTALL | re.MULTILINE)
SERVER_LINE = "SERVER=http://127.0.0.1:8000\n"
TOOLS = ("bash", "curl", "jq")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]


def shell_blocks() -> list[str]:
    return [textwrap.dedent(block) for _indent, block in SHELL_BLOCK.findall(README.read_text())]


def script(server: str) -> str:
    blocks = shell_blocks()
    assert blocks and blocks[0].startswith(SERVER_LINE), "the first block says where the server is"
    blocks[0] = blocks[0].replace(SERVER_LINE, f"SERVER={server}\n", 1)
    return "".join(
        f"printf '\\n### README block {number}\\n'\n{block}"
        for number, block in enumerate(blocks, start=1)
    )


@pytest.fixture
def fresh_demo(provisioned, django_db_blocker) -> None:
    """The demo tenant as a first ``make run`` leaves it (other tests may have used it)."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(slug__in=[SLUG, "northwind"]):
            tenant.delete(force_drop=True)
        call_command("seed_demo", stdout=io.StringIO())
        connection.set_schema_to_public()
    queue_clear()  # deliveries earlier tests queued: the readiness check counts their age


@pytest.mark.skipif(bool(MISSING), reason=f"missing {', '.join(MISSING)} (.ci/run installs them)")
def test_the_readme_shell_blocks_run_against_a_live_server(fresh_demo, tmp_path):
    (tmp_path / ".curlrc").write_text("fail-with-body\nshow-error\n")
    env = {**os.environ, "DATABASE_URL": test_database_url(), "HOME": str(tmp_path)}
    if (ROOT / ".local" / "secret_key").is_file():
        # Found in the checkout, as after `make run` (the Makefile exports it; plain pytest not).
        env.pop("DJANGO_SECRET_KEY", None)
    with web_servers() as [url]:
        run = subprocess.run(
            ["bash", "-e", "-u", "-o", "pipefail", "-c", script(url)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    print(run.stdout, run.stderr)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-5000:]
    assert run.stdout.count("### README block") == len(shell_blocks())
    out = run.stdout
    assert "null" not in out  # every value the README prints was there
    assert '"email": "owner@demo.test"' in out
    [(first, again)] = re.findall(r"First answer: invoice (\d+); the retry's: invoice (\d+)\.", out)
    assert first == again  # the Idempotency-Key replayed the sale instead of a second one
    assert '"3.00"' in out  # 5 benches in stock, 2 sold
    assert re.search(r'"status":"paid","notes":"Deliver to the back door"', out)
    assert '"amount_due":"0.00"' in out
    assert '"owner@northwind.test"' in out
