"""What operators see: one structured access-log line per request, ``/health/ready`` naming
what is not ready, and Prometheus metrics of every worker on the bare host only."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from optiflow.health import NotReady, queue_age
from tests.servers import free_port, wait_until_serving, web_server


def access_lines(caplog) -> list[dict]:
    return [r.msg for r in caplog.records if r.name == "optiflow.access"]


def test_one_access_line_per_request_says_who_what_and_what_it_cost(api, tenant, caplog):
    caplog.set_level(logging.INFO, logger="optiflow.access")
    contact = api.post("/contacts", {"name": "Logged", "contact_type": "customer"}).json()
    caplog.clear()
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"/contacts/{contact['data']['id']}", headers={"X-Request-Id": "r-1"})
    assert response.status_code == 200
    [line] = access_lines(caplog)
    expected = {
        "event": "request",
        "request_id": "r-1",
        "tenant": "acme",
        "user_id": tenant.owner.pk,
        "token_id": int(tenant.token.split("|")[0]),
        "method": "GET",
        "route": "/api/v1/contacts/{pk}",
        "status": 200,
        "queries": len(queries),
    }
    assert {key: line.get(key) for key in expected} == expected
    assert line["duration_ms"] > 0


def test_the_access_line_is_one_json_object(api, caplog):
    """As the configured handler writes it: one line of JSON, with time, level and logger."""
    caplog.set_level(logging.INFO, logger="optiflow.access")
    api.get("/me")
    [record] = [r for r in caplog.records if r.name == "optiflow.access"]
    [handler] = [h for h in logging.getLogger().handlers if h.name == "console"]
    text = handler.formatter.format(record)
    assert "\n" not in text
    written = json.loads(text)
    assert written["logger"] == "optiflow.access" and written["level"] == "info"
    assert written["timestamp"].endswith("Z") and written["route"] == "/api/v1/me"


@override_settings(OPTIFLOW_MAX_BODY_BYTES=10)
def test_refused_and_anonymous_requests_are_logged_too(api, caplog):
    caplog.set_level(logging.INFO, logger="optiflow.access")
    api.post_raw("/tokens", json.dumps({"name": "too long for ten bytes"}))
    api.as_token(None).get("/me")
    refused, anonymous = access_lines(caplog)
    assert (refused["status"], refused["route"], refused["tenant"]) == (413, None, None)
    assert (anonymous["status"], anonymous["user_id"], anonymous["token_id"]) == (401, None, None)
    assert anonymous["tenant"] == "acme"


# --- readiness ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health/ready", "/t/acme/api/v1/health/ready"])
def test_ready_lists_its_checks(client, tenant, path):
    response = client.get(path)
    assert response.status_code == 200
    checks = response.json()["data"]["checks"]
    assert response.json()["data"]["status"] == "ok"
    assert checks["database"]["status"] == "ok"
    assert "redis" not in checks  # not configured


def test_ready_names_a_configured_redis_that_is_down(client, tenant):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["message"] == "Not ready: redis."
    assert body["checks"]["redis"]["status"] == "failed"
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    assert body["checks"]["database"]["status"] == "ok"


def test_ready_answers_while_the_database_is_down(provisioned):
    """A server whose database is gone (nothing listens where DATABASE_URL points): the bare
    host's readiness still answers, naming the database; a tenant address cannot even find
    its tenant, and says so with a 503 too."""
    dead = f"postgresql://nobody@127.0.0.1:{free_port()}/gone"
    with web_server({"DATABASE_URL": dead}) as server:
        with pytest.raises(urllib.error.HTTPError) as ready:
            urllib.request.urlopen(f"{server.url}/health/ready", timeout=10)
        with pytest.raises(urllib.error.HTTPError) as tenant_ready:
            urllib.request.urlopen(f"{server.url}/t/acme/api/v1/health/ready", timeout=10)
    assert ready.value.code == 503
    assert ready.value.headers["Retry-After"] == "5"
    body = json.loads(ready.value.read())
    # The queue lives in the database too: it is not tried, so the answer waits for one
    # connection timeout only.
    assert body["message"] == "Not ready: database, webhook_queue."
    assert body["checks"]["webhook_queue"]["error"] == "database not ready"
    assert body["checks"]["webhook_queue"]["duration_ms"] < 100
    assert body["checks"]["database"] == {
        "status": "failed",
        "error": "OperationalError",
        "duration_ms": body["checks"]["database"]["duration_ms"],
    }
    assert tenant_ready.value.code == 503
    assert tenant_ready.value.headers["Retry-After"] == "5"


def test_the_queue_check_fails_when_the_oldest_pending_job_waits_too_long():
    limit = dt.timedelta(minutes=5)
    queue_age(lambda: None, max_age=limit)()  # an empty queue is ready
    queue_age(lambda: dt.timedelta(minutes=4), max_age=limit)()
    stuck = queue_age(lambda: dt.timedelta(minutes=6), max_age=limit)
    with pytest.raises(NotReady, match="oldest pending job waiting 360 s"):
        stuck()


# --- metrics ------------------------------------------------------------------------------


def test_metrics_are_off_unless_enabled(client, tenant):
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found."}


def get(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def health_count(metrics: str) -> float:
    """Served ``GET /t/acme/api/v1/health``, as the metrics count them."""
    for line in metrics.splitlines():
        if line.startswith("django_http_responses_total_by_status_view_method_total{") and (
            'view="health"' in line and 'status="200"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_add_up_every_worker_on_the_bare_host_only(provisioned):
    """Two workers count; then every worker is killed and replaced, and counts more. The
    bare host's /metrics shows all of it: the dead workers' counts too (they are files)."""
    with web_server({"OPTIFLOW_METRICS": "1"}, workers=2) as server:
        for _ in range(10):
            assert get(f"{server.url}/t/acme/api/v1/health")[0] == 200
        for pid in server.worker_pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        wait_until_serving(server.url)
        for _ in range(5):
            assert get(f"{server.url}/t/acme/api/v1/health")[0] == 200
        status, metrics = get(f"{server.url}/metrics")
        assert status == 200
        assert health_count(metrics) == 15
        assert get(f"{server.url}/t/acme/metrics")[0] == 404
        assert get(f"{server.url}/metrics", host="acme.localhost")[0] == 404
