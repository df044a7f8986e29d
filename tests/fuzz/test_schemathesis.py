"""Schemathesis explores the live OpenAPI document of the demo tenant (SPEC §10) over HTTP.

Every operation gets schema-valid and schema-violating inputs (coverage, fuzzing and stateful
phases) from a server process on the test database (served as ``make run`` serves),
authenticated as the tenant owner.
Every check runs but ``positive_data_acceptance``: a business API rightly refuses many
schema-valid requests (an unknown ``contact_id``, a stock shortage, a prefix already in use)
with a documented ``422``, which that check would count as a failure. What is held: no 5xx,
only documented statuses and content types, bodies and headers as documented, invalid input
refused, no response to an undeclared method but ``405``, authentication never ignored.

Ids are mostly real (``schemathesis.toml`` written by ``fuzz_config``): each path ``{id}`` and
each body field naming a record draws, most of the time, from the ids of the demo tenant's
records of that kind, so requests reach the business rules rather than stopping at ``404``.

``make test`` runs a bounded pass with a fixed seed; ``make fuzz`` a long one with a random
seed (``OPTIFLOW_FUZZ_EXAMPLES``, ``OPTIFLOW_FUZZ_SEED``; ``-s`` shows the report).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Model
from django_tenants.utils import schema_context

from billing.models import DocumentSeries, Invoice, Payment, Quotation
from contacts.models import Contact
from inventory.models import (
    Category,
    Product,
    StockAdjustment,
    StockLevel,
    StockMovement,
    StockTransfer,
    Tax,
)
from optiflow.management.commands.seed_demo import OWNER_EMAIL, SLUG
from tenants.models import User, Workspace
from tenants.services import token_create
from tests.servers import ROOT, web_servers

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = os.environ.get("OPTIFLOW_FUZZ_EXAMPLES", "10")
SEED = os.environ.get("OPTIFLOW_FUZZ_SEED", "20261121")


#: Path prefix → the model its ``{id}`` names.
RESOURCES: dict[str, type[Model]] = {
    "contacts": Contact,
    "taxes": Tax,
    "categories": Category,
    "products": Product,
    "stock-levels": StockLevel,
    "stock-movements": StockMovement,
    "stock-adjustments": StockAdjustment,
    "stock-transfers": StockTransfer,
    "document-series": DocumentSeries,
    "invoices": Invoice,
    "payments": Payment,
    "quotations": Quotation,
    "users": User,
    "workspaces": Workspace,
}
#: Body fields (schemathesis binding keys) → the model whose id they take.
BODY_IDS: dict[str, type[Model]] = {
    "body.contact_id": Contact,
    "body.product_id": Product,
    "body.items[*].product_id": Product,
    "body.invoice_id": Invoice,
    "body.tax_ids[*]": Tax,
    "body.default_tax_id": Tax,
    "body.category_id": Category,
    "body.parent_id": Category,
    "body.document_series_id": DocumentSeries,
    "body.workspace_id": Workspace,
    "body.to_workspace_id": Workspace,
    "body.from_workspace_id": Workspace,
    "body.initial_stock[*].workspace_id": Workspace,
    "body.user_id": User,
}
#: How often a bound field takes a real id rather than a generated value.
REAL_ID_PROBABILITY = 0.8
#: Schemathesis' refusals of invalid data, and 412: a stale `If-Match` refuses a write before
#: its body is read (RFC 9110 §13.2.1), and writes nothing.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "412", "415", "422", "428", "429"]


@pytest.fixture(scope="module")
def demo_token(provisioned, django_db_blocker) -> tuple[int, str]:
    """The demo tenant of ``make run``, committed, and a token of its owner."""
    with django_db_blocker.unblock():
        call_command("seed_demo", stdout=io.StringIO())
        with schema_context(f"t_{SLUG}"):
            token, plaintext = token_create(user=User.objects.get(email=OWNER_EMAIL), name="fuzz")
        connection.set_schema_to_public()
    return token.pk, plaintext


def fuzz_config(django_db_blocker) -> str:
    """``schemathesis.toml``: real ids of the demo tenant for path ids and body references,
    and ``If-Match: *`` for writes that send one."""

    def ids(model: type[Model]) -> str:
        return json.dumps(list(model.objects.order_by("pk").values_list("pk", flat=True)))

    def binding(dictionary: str) -> str:
        return f'{{ dictionary = "{dictionary}", probability = {REAL_ID_PROBABILITY} }}'

    models = {*RESOURCES.values(), *BODY_IDS.values()}
    with django_db_blocker.unblock(), schema_context(f"t_{SLUG}"):
        dictionaries = [f"[dictionaries.{m.__name__}]\nvalues = {ids(m)}\n" for m in models]
    # A generated If-Match is never the record's ETag: mostly send `*` (any version), so that
    # writes reach their rules instead of all stopping at 412.
    dictionaries.append('[dictionaries.AnyVersion]\nvalues = ["*"]\n')
    lines = [
        "[generation]",
        "# A header or query parameter the document does not list is no invalid data: HTTP",
        "# servers ignore those (proxies add their own), so no refusal is to be expected.",
        "allow-extra-parameters = false",
        "",
        "[checks.negative_data_rejection]",
        f"expected-statuses = {json.dumps([*REFUSALS, '5xx'])}",
        "",
        *sorted(dictionaries),
        "[parameters]",
        f'"path.user_id" = {binding(User.__name__)}',  # a workspace's member
        f'"header.If-Match" = {binding("AnyVersion")}',
        *(f'"{key}" = {binding(model.__name__)}' for key, model in BODY_IDS.items()),
        "",
    ]
    for prefix, model in RESOURCES.items():
        lines += [
            "[[operations]]",
            f'include-path-regex = "^/api/v1/{prefix}/"',
            f'parameters = {{ "path.id" = {binding(model.__name__)} }}',
            "",
        ]
    return "\n".join(lines)


def test_the_api_holds_to_its_openapi_document(demo_token, django_db_blocker, tmp_path):
    token_id, token = demo_token
    config = tmp_path / "schemathesis.toml"
    config.write_text(fuzz_config(django_db_blocker))
    server_env = {"OPTIFLOW_RATE_LIMIT_USER": "10000/s", "OPTIFLOW_RATE_LIMIT_ANON": "10000/s"}
    with web_servers(server_env) as [url]:
        seed = [] if SEED == "random" else ["--seed", SEED]
        run = subprocess.run(
            [
                SCHEMATHESIS,
                "--config-file",
                str(config),
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
