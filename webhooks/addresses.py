"""Where webhooks may be sent: the SSRF guard (SPEC §8.10).

A URL is refused when its host resolves to any loopback, private, link-local, multicast,
reserved or otherwise non-public address, unless ``OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE`` is on
(tests, on-premises receivers). It is checked when a subscription is saved and again before
every attempt, because DNS can change in between; the attempt then connects to the very address
it checked, so a second lookup cannot swap in another.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The URL's host resolves to an address webhooks are not sent to."""


def is_refused(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return not address.is_global or address.is_multicast


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def addresses_check(addresses: list[str], host: str) -> None:
    """Raise ``AddressRefused`` if any of ``addresses`` (what ``host`` resolves to) is not
    public: a name that also resolves to an internal address is as dangerous as one that only
    does."""
    if settings.OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE:
        return
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        if is_refused(address):
            raise AddressRefused(
                f"{host} resolves to {address}, a private or reserved address; webhooks are "
                "sent to public addresses only."
            )


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (itself, for an IP literal); ``OSError`` when it
    does not resolve."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in found))


def url_check(url: str) -> None:
    """The creation-time check of a URL already valid as a URL; raises ``AddressRefused``, or
    ``OSError`` for a host that does not resolve. Nothing is looked up while private
    addresses are allowed: internal names may resolve only where the workers run."""
    if settings.OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    addresses_check(resolve(host, parts.port or default_port(parts.scheme)), host)
