"""One HTTP POST of a webhook (SPEC §8.10), with no database in sight.

* 10 seconds in all, name resolution and a slowly trickled response included: the request
  runs under one ``asyncio`` deadline, which per-read socket timeouts cannot give.
* The host is resolved and checked by the SSRF guard, then the request goes to that address
  (``Host`` header and TLS server name keep the real name), so DNS cannot be swapped between
  the check and the connection.
* Redirects are not followed; no proxy from the environment is used; at most 4 KB of the
  response body is read (raw, no decompression: a small compressed body cannot grow).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

import httpx

from webhooks.addresses import AddressRefused, addresses_check, default_port

USER_AGENT = "OptiFlow-Webhooks/1"
TIMEOUT_SECONDS = 10.0
READ_LIMIT = 4096


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status and the start of the body, or an error."""

    status: int | None
    body: bytes
    error: str
    duration_ms: int


@functools.cache
def ssl_context() -> ssl.SSLContext:
    # Built once per process: loading the CA bundle costs more than a delivery.
    return httpx.create_ssl_context()


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST ``body`` to ``url``; never raises for anything the receiver or the network does."""
    started = time.monotonic()
    status, content, error = None, b"", ""
    try:
        status, content, location = asyncio.run(_post(url, body, headers))
        if 300 <= status < 400:
            error = f"Redirect to {location or '(no location)'} not followed."
    except AddressRefused as refused:
        error = str(refused)
    except TimeoutError:
        error = f"No complete response within {TIMEOUT_SECONDS:g} seconds."
    except socket.gaierror as failure:
        error = f"Could not resolve {urlsplit(url).hostname}: {failure.strerror or failure}."
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
    duration_ms = round((time.monotonic() - started) * 1000)
    return Outcome(status, content, error[:500], duration_ms)


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or default_port(parts.scheme)
    async with asyncio.timeout(TIMEOUT_SECONDS):
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(info[4][0] for info in found))
        addresses_check(addresses, host)
        for address in addresses[:-1]:
            try:
                return await _post_to(address, parts, body, headers)
            except httpx.ConnectError:
                continue  # e.g. ::1 first for a receiver listening on 127.0.0.1 only
        return await _post_to(addresses[-1], parts, body, headers)


async def _post_to(
    address: str, parts: SplitResult, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes, str | None]:
    port = parts.port or default_port(parts.scheme)
    pinned = f"[{address}]" if ":" in address else address
    target = parts._replace(netloc=f"{pinned}:{port}").geturl()
    auth = None
    if parts.username is not None:
        auth = httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))
    request_headers = {
        **headers,
        "Host": parts.netloc.rpartition("@")[2],
        "User-Agent": USER_AGENT,
        "Accept-Encoding": "identity",
    }
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    async with (
        httpx.AsyncClient(
            verify=ssl_context(),
            trust_env=False,
            follow_redirects=False,
            timeout=TIMEOUT_SECONDS,
        ) as client,
        client.stream(
            "POST",
            target,
            content=body,
            headers=request_headers,
            auth=auth,
            extensions=extensions,
        ) as response,
    ):
        content = b""
        async for chunk in response.aiter_raw():
            content += chunk
            if len(content) >= READ_LIMIT:
                break  # leaving the block closes the connection on the rest
        return response.status_code, content[:READ_LIMIT], response.headers.get("location")
