"""Resolves the tenant of each request and activates its schema (SPEC §2).

Two equivalent addresses reach a tenant:

* ``{slug}.{OPTIFLOW_BASE_DOMAIN}`` or any other ``Domain`` row: matched on the Host header;
* ``/t/{slug}/...`` on any host: the prefix is moved from ``path_info`` into the script prefix,
  so URL resolution sees ``/api/v1/...`` while ``request.path`` (and every link built from it,
  pagination included) keeps the form the client used.

A host under the base domain that matches no tenant, or an unknown slug, is a JSON 404. Any
other host is the bare host: the public schema and its URLs (health, platform admin, docs).

Resolution costs no database round trip once a process has seen an address: see
``TenantCache`` and ``TenantCheck``.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any, NamedTuple

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import get_script_prefix, set_script_prefix, set_urlconf
from django_tenants.utils import get_public_schema_name

from tenants.models import SLUG_PATTERN, Domain, Tenant
from tenants.services import bare_host_names

PATH_PREFIX = re.compile(rf"^/t/(?P<slug>{SLUG_PATTERN})(?P<rest>/.*|$)")

#: An address: ``("slug", slug)`` for a ``/t/{slug}`` path, ``("host", host)`` for a Domain.
Address = tuple[str, str]


def tenant_not_found() -> JsonResponse:
    return JsonResponse({"message": "Tenant not found."}, status=404)


class TenantGone(Http404):
    """The tenant a cached address named no longer answers to it, and nothing else does."""


class Cached(NamedTuple):
    tenant: Tenant
    #: SQL (and its parameters) true while the public tables still say what this entry says.
    condition: tuple[str, list[Any]]


def still_named(address: Address, tenant: Tenant) -> tuple[str, list[Any]]:
    """The condition under which ``address`` still names ``tenant`` as read: the tenant row
    holds exactly these values (so a deleted, re-created or edited tenant fails it) and, for a
    host, its ``Domain`` row still names that tenant (so a moved or removed domain fails it)."""
    quote = connection.ops.quote_name
    public = quote(get_public_schema_name())
    clauses, params = [], []
    for field in Tenant._meta.concrete_fields:
        clauses.append(f"t.{quote(field.column)} IS NOT DISTINCT FROM %s")
        params.append(field.get_db_prep_value(field.value_from_object(tenant), connection))
    sql = f"SELECT 1 FROM {public}.{quote(Tenant._meta.db_table)} t WHERE {' AND '.join(clauses)}"
    if address[0] == "host":
        sql += (
            f" AND EXISTS (SELECT 1 FROM {public}.{quote(Domain._meta.db_table)} d"
            " WHERE d.domain = %s AND d.tenant_id = t.id)"
        )
        params.append(address[1])
    return f"EXISTS ({sql})", params


class TenantCache:
    """Address → ``Tenant``, per process, as last read from the public schema (with the
    condition that checks it, built once per entry).

    Only addresses that matched a tenant are kept (an unknown slug or host is looked up each
    time), so the cache holds at most one entry per slug and domain that exists; the bound
    is a backstop against a platform with more of them than a process needs to remember.
    An entry is a hint, never trusted as it stands: each request that uses one checks it
    against the public tables in its first statement (``TenantCheck``).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Address, Cached] = OrderedDict()
        self._lock = threading.Lock()  # uWSGI workers may run threads

    def get(self, address: Address) -> Cached | None:
        with self._lock:
            cached = self._entries.get(address)
            if cached is not None:
                self._entries.move_to_end(address)
            return cached

    def put(self, address: Address, tenant: Tenant) -> None:
        cached = Cached(tenant, still_named(address, tenant))
        with self._lock:
            self._entries[address] = cached
            self._entries.move_to_end(address)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, address: Address) -> None:
        with self._lock:
            self._entries.pop(address, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


tenant_cache = TenantCache(size=10_000)


def tenant_lookup(address: Address) -> Tenant | None:
    """The tenant ``address`` names now, read from the public schema (and remembered)."""
    kind, name = address
    if kind == "slug":
        tenant = Tenant.objects.filter(slug=name).first()
    else:
        domain = Domain.objects.select_related("tenant").filter(domain=name).first()
        tenant = domain.tenant if domain is not None else None
    if tenant is not None:
        tenant_cache.put(address, tenant)
    return tenant


class TenantCheck:
    """Proves a cached tenant right before the request reads or writes anything.

    Why a wrong tenant is impossible: no statement of the request runs before the check has
    passed. The check is a condition on the public tables (``still_named``). It runs either

    * inside the request's first statement, which carries it (``carry``, then ``settle``
      with its value before anything is done with that statement's rows: the token lookup
      does this, so an authenticated request pays no statement for its tenant), or
    * as a statement of its own just before the first statement, when nothing carried it:
      ``TenantCheck`` is a ``connection.execute_wrapper`` for the request.

    A failed check forgets the entry, looks the address up again and activates what it
    names now before that first statement runs (same URLconf: a tenant address resolves
    the same routes whichever tenant it names); if it names nothing any more, the request is
    a 404. Another process's change is thus seen by the next request here, at the price of
    one more statement for the request that finds it.

    A statement carrying the check runs in the cached schema before the check is known, so
    it must read only (the token lookup does). If that schema was dropped with its tenant,
    the statement fails; its caller then settles the check as failed (or, when the failure
    broke a transaction it cannot continue, ``abandon``s the entry for the next request).
    """

    def __init__(self, request: HttpRequest, address: Address, cached: Cached) -> None:
        self.request = request
        self.address = address
        self.condition = cached.condition
        self.pending = True

    def carry(self) -> tuple[str, list[Any]]:
        """The condition, for the caller to put in the statement it is about to run; the
        caller must ``settle`` with its value before using that statement's rows."""
        self.pending = False
        return self.condition

    def settle(self, holds: bool) -> None:
        if holds:
            return
        tenant_cache.forget(self.address)
        self.pending = False
        tenant = tenant_lookup(self.address)
        if tenant is None:
            raise TenantGone("Tenant not found.")
        activate(self.request, tenant)

    def abandon(self) -> None:
        """The carrying statement failed and nothing can be retried: the entry is forgotten,
        as its schema (and tenant) may be gone."""
        tenant_cache.forget(self.address)

    def __call__(self, execute, sql, params, many, context):
        if self.pending:
            self.pending = False  # set first: the check's own statement comes through here
            condition, condition_params = self.condition
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {condition}", condition_params)
                self.settle(cursor.fetchone()[0])
        return execute(sql, params, many, context)


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Restored afterwards, so code that serves a request inside another schema context
        # (tests, management commands) finds its schema as it left it.
        previous_tenant = connection.tenant
        connection.set_schema_to_public()
        script_prefix = get_script_prefix()
        try:
            resolved = self.resolve(request)
            if isinstance(resolved, HttpResponse):
                return resolved
            check = getattr(request, "tenant_check", None)
            if check is None:
                return self.get_response(request)
            with connection.execute_wrapper(check):
                return self.get_response(request)
        except DatabaseError:
            return JsonResponse({"message": "Service unavailable."}, status=503)
        finally:
            set_script_prefix(script_prefix)
            set_urlconf(None)
            connection.set_tenant(previous_tenant)

    def resolve(self, request: HttpRequest) -> HttpResponse | None:
        match = PATH_PREFIX.match(request.path_info)
        if match:
            if not self.reach(request, ("slug", match["slug"])):
                return tenant_not_found()
            prefix = f"/t/{match['slug']}"
            request.path_info = match["rest"] or "/"
            set_script_prefix(request.META.get("SCRIPT_NAME", "").rstrip("/") + prefix + "/")
            request.tenant_path_prefix = prefix
            return None

        host = request.get_host().rsplit(":", 1)[0].lower()
        # The bare host's own names are never a tenant's (``domain_check`` refuses them), so
        # they need no lookup. Any other host that matches no Domain row is looked up each
        # time: that absence is not cached, as no statement of the request could vouch for it.
        if host not in bare_host_names():
            if self.reach(request, ("host", host)):
                request.tenant_path_prefix = ""
                return None
            if host.endswith("." + settings.OPTIFLOW_BASE_DOMAIN):
                return tenant_not_found()
        request.tenant = connection.tenant  # django-tenants' stand-in for the public schema
        request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
        set_urlconf(request.urlconf)
        return None

    @staticmethod
    def reach(request: HttpRequest, address: Address) -> bool:
        """Activate the tenant ``address`` names, if any: from the cache, with a check the
        request's first statement must pass (``TenantCheck``), else from the database."""
        cached = tenant_cache.get(address)
        if cached is not None:
            tenant = cached.tenant
            request.tenant_check = TenantCheck(request, address, cached)
        else:
            tenant = tenant_lookup(address)
            if tenant is None:
                return False
        activate(request, tenant)
        return True


def activate(request: HttpRequest, tenant: Tenant) -> None:
    request.tenant = tenant
    connection.set_tenant(tenant)
    request.urlconf = settings.ROOT_URLCONF
    set_urlconf(request.urlconf)
