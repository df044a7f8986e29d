"""Schemathesis explores the live OpenAPI document of the demo tenant (SPEC §10) over HTTP.

Every operation gets schema-valid and schema-violating inputs (coverage, fuzzing and stateful
phases) from a server process on the test database (served as ``make run`` serves),
authenticated as the tenant owner.
Every check runs but ``positive_data_acceptance``: a business API rightly refuses many
schema-valid requests (an unknown ``contact_id``, a stock shortage, a prefix already in use)
with a documented ``422``, which that check would count as a failure. What is held: no 5xx,
only documented statuses and content types, bodies and headers as documented, invalid input
refused, no response to an undeclared method but ``405``, authentication never ignored.

``make test`` runs a bounded pass with a fixed seed; ``make fuzz`` a long one with a random
seed (``OPTIFLOW_FUZZ_EXAMPLES``, ``OPTIFLOW_FUZZ_SEED``; ``-s`` shows the report).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from optiflow.management.commands.seed_demo import OWNER_EMAIL, SLUG
from tenants.models import User
from tenants.services import token_create
from tests.servers import ROOT, web_servers

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = os.environ.get("OPTIFLOW_FUZZ_EXAMPLES", "10")
SEED = os.environ.get("OPTIFLOW_FUZZ_SEED", "20261121")


@pytest.fixture(scope="module")
def demo_token(provisioned, django_db_blocker) -> tuple[int, str]:
    """The demo tenant of ``make run``, committed, and a token of its owner."""
    with django_db_blocker.unblock():
        call_command("seed_demo", stdout=io.StringIO())
        with schema_context(f"t_{SLUG}"):
            token, plaintext = token_create(user=User.objects.get(email=OWNER_EMAIL), name="fuzz")
        connection.set_schema_to_public()
    return token.pk, plaintext


def test_the_api_holds_to_its_openapi_document(demo_token, tmp_path):
    token_id, token = demo_token
    server_env = {"OPTIFLOW_RATE_LIMIT_USER": "10000/s", "OPTIFLOW_RATE_LIMIT_ANON": "10000/s"}
    with web_servers(server_env) as [url]:
        seed = [] if SEED == "random" else ["--seed", SEED]
        run = subprocess.run(
            [
                SCHEMATHESIS,
                "run",
                f"{url}/t/{SLUG}/api/v1/schema?format=json",
                "--url",
                f"{url}/t/{SLUG}",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-examples",
                EXAMPLES,
                *seed,
                "--workers",
                "2",
                "--generation-database",
                "none",
                "--no-color",
                "--report",
                "junit",
                "--report-dir",
                str(tmp_path),
            ],
            cwd=tmp_path,  # its replay cache stays out of the checkout
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
                "OPTIFLOW_FUZZ_TOKEN_ID": str(token_id),
                "PYTHONPATH": str(ROOT),
            },
            capture_output=True,
            text=True,
            timeout=3600,
        )
    summary = run.stdout[run.stdout.find("= SUMMARY =") :]
    print(summary)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    tested = re.search(r"Tested: (\d+)", summary)
    selected = re.search(r"Selected: (\d+)/(\d+)", summary)
    assert tested and selected and tested.group(1) == selected.group(2), summary
