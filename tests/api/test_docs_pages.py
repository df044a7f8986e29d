"""The documentation pages (SPEC §10): Swagger UI and ReDoc load nothing from outside the
server, and the OpenAPI document's ``servers`` follow the address it was read from, so "Try it
out" calls the host, port and tenant that served the page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.db import connection

from tests.servers import web_servers

PAGES = ("/t/acme/api/v1/docs", "/t/acme/api/v1/redoc", "/api/v1/docs", "/api/v1/redoc")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Assets(HTMLParser):
    """The URLs a page makes the browser load, and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        self._in_script = tag == "script" and "src" not in found

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


@pytest.mark.parametrize("path", PAGES)
def test_the_pages_reference_only_their_own_server(client, tenant, path):
    response = client.get(path)
    assert response.status_code == 200
    assets = Assets()
    assets.feed(response.content.decode())
    assert assets.urls, "the page loads its UI from somewhere"
    assert [url for url in assets.urls if not url.startswith("/")] == []
    assert assets.inline_scripts == []  # so the policy below can forbid them
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert re.findall(r"https?://", response["Content-Security-Policy"]) == []


def test_the_swagger_ui_script_is_served_too(client, tenant):
    page = Assets()
    page.feed(client.get("/t/acme/api/v1/docs").content.decode())
    [script] = [url for url in page.urls if "script" in url]
    init = client.get(script)
    assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
    assert re.findall(r"https?://", init.content.decode()) == []
    assert '"validatorUrl": null' in init.content.decode()  # no badge from validator.swagger.io


def servers(client, path: str, **extra) -> list[dict]:
    response = client.get(path, {"format": "json"}, **extra)
    assert response.status_code == 200, response.content
    return json.loads(response.content)["servers"]


def test_servers_follow_the_address_the_document_was_read_from(client, tenant):
    prefixed = servers(client, "/t/acme/api/v1/schema", HTTP_HOST="localhost:8123")
    assert prefixed[0] == {"url": "http://localhost:8123/t/acme", "description": "This tenant."}
    assert prefixed[1]["variables"]["host"]["default"] == "localhost:8123"
    assert prefixed[2]["variables"]["base_domain"]["default"] == "localhost:8123"

    by_host = servers(client, "/api/v1/schema", HTTP_HOST="acme.localhost:9000", secure=True)
    assert by_host[0] == {"url": "https://acme.localhost:9000", "description": "This tenant."}
    assert by_host[1]["variables"]["scheme"]["default"] == "https"

    bare = servers(client, "/api/v1/schema", HTTP_HOST="127.0.0.1:8555")
    assert [server["url"] for server in bare] == [
        "{scheme}://{host}/t/{tenant}",
        "{scheme}://{tenant}.{base_domain}",
    ]
    assert bare[0]["variables"]["host"]["default"] == "127.0.0.1:8555"


def page_requests(netlog: Path, origin: str) -> list[str]:
    """The URLs a page at ``origin`` asked for, from a Chromium NetLog: its navigation and
    every request it initiated (the browser's own traffic, updates and the like, has no
    initiating origin)."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        params["url"]
        for event in log["events"]
        if event["type"] == start
        for params in [event.get("params", {})]
        if params.get("initiator") == origin or params.get("request_type") == "main frame"
    ]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_a_browser_renders_the_pages_without_loading_anything_from_elsewhere(provisioned, tmp_path):
    """Headless Chromium opens each page of a live server (scripts run, the schema loads, the
    operations render) while a NetLog records every request the page makes."""
    connection.set_schema_to_public()
    with web_servers() as [url]:
        for path, rendered in [
            ("/t/acme/api/v1/docs", 'data-path="/api/v1/invoices"'),
            ("/t/acme/api/v1/redoc", "/api/v1/invoices/{id}/issue"),
            ("/api/v1/docs", 'data-path="/api/v1/invoices"'),
        ]:
            netlog = tmp_path / f"{path.replace('/', '_')}.json"
            dom = subprocess.run(
                [
                    CHROMIUM,
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--window-size=1400,1000",
                    "--no-first-run",
                    "--disable-sync",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-features=AutofillServerCommunication,Translate",
                    f"--user-data-dir={tmp_path / 'profile'}",
                    f"--log-net-log={netlog}",
                    "--virtual-time-budget=20000",
                    "--dump-dom",
                    url + path,
                ],
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
            assert rendered in dom, (path, dom[-2000:])
            requests = page_requests(netlog, origin=url)
            assert url + path in requests
            assert any(r.endswith("/api/v1/schema") for r in requests), requests  # seen
            assert [r for r in requests if not r.startswith(url + "/")] == [], path
