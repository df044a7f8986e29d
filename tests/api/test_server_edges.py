"""The server edge of ``make run`` (``uwsgi.ini``), from outside through real sockets: slow
clients do not starve the workers, kept-alive connections survive idling, and oversized or
hostile input answers in the JSON error shape (SPEC §5)."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from tests.conftest import OWNER_PASSWORD
from tests.servers import web_servers


@pytest.fixture(scope="module")
def server(provisioned) -> Iterator[tuple[str, int]]:
    """One server in ``make run``'s shape: two worker processes behind the router."""
    with web_servers(workers=2) as [url]:
        address = urlparse(url)
        yield address.hostname, address.port


def connect(server: tuple[str, int]) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(*server, timeout=10)


def test_slow_clients_do_not_starve_the_workers(server):
    """16 connections (twice the 8 worker threads) trickle a header line every 2 s; meanwhile
    a probe is answered well under a second, every time."""
    slow = [socket.create_connection(server) for _ in range(16)]
    try:
        for sock in slow:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        probes = []
        for round_ in range(4):
            for sock in slow:
                sock.sendall(f"X-Slow-{round_}: still here\r\n".encode())
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                probe = connect(server)
                started = time.monotonic()
                probe.request("GET", "/health")
                response = probe.getresponse()
                response.read()
                probes.append((response.status, time.monotonic() - started))
                probe.close()
                time.sleep(0.25)
    finally:
        for sock in slow:
            sock.close()
    assert {status for status, _ in probes} == {200}
    assert max(seconds for _, seconds in probes) < 1.0, probes


def test_a_post_after_10_s_idle_on_a_kept_alive_connection_succeeds(server):
    connection = connect(server)
    connection.request("GET", "/health")
    first = connection.getresponse()
    first.read()
    assert first.status == 200
    kept = connection.sock
    time.sleep(10.5)
    body = {"email": "owner@acme.test", "password": OWNER_PASSWORD, "name": "after idle"}
    connection.request(
        "POST",
        "/t/acme/api/v1/auth/token",
        body=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    response = connection.getresponse()
    assert response.status == 201, response.read()
    assert connection.sock is kept  # the same connection: no reconnect hid a reset


def test_a_body_refused_unread_leaves_the_kept_alive_connection_usable(server):
    """A POST refused before its body is parsed (an unknown workspace), then more requests on
    the same connection: each is answered, none finds the connection reset."""
    connection = connect(server)
    connection.connect()
    kept = connection.sock
    body = json.dumps({"email": "owner@acme.test", "password": "x", "name": "n"})
    for _ in range(3):
        connection.request(
            "POST",
            "/t/acme/api/v1/tokens",
            body=body,
            headers={"Content-Type": "application/json", "X-Workspace-ID": "0"},
        )
        response = connection.getresponse()
        response.read()
        assert response.status == 401
    assert connection.sock is kept


def raw_exchange(
    server: tuple[str, int], head: bytes, body: bytes = b""
) -> tuple[int, dict, bytes]:
    """Send a request as given and read the answer: status, headers, body."""
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(head + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def test_a_long_request_line_is_414_json(server):
    target = "/t/acme/api/v1/contacts?filter[smart]=" + "x" * 9000
    status, headers, body = raw_exchange(
        server, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    )
    assert status == 414
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"message": "Request line too long (over 8192 bytes)."}


def test_a_body_over_5_mb_is_413_json_without_being_read(server):
    """Only the headers and the first bytes are sent: the answer does not wait for 5 MB."""
    head = (
        b"POST /t/acme/api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 5242881\r\n\r\n"
    )
    status, headers, body = raw_exchange(server, head, b'{"email": "')
    assert status == 413
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"  # the rest of the body is not a next request
    assert json.loads(body) == {"message": "Request body too large (over 5242880 bytes)."}


def test_json_nested_1000_deep_is_400_json(server):
    body = b'{"email": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    head = (
        b"POST /t/acme/api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    status, _, answer = raw_exchange(server, head, body)
    assert status == 400
    assert json.loads(answer) == {"message": "Malformed JSON: nested deeper than 64 levels."}
