"""The tenant admin's dashboard: a list of panels that apps contribute.

An app appends a function ``(request) -> Panel | None`` to ``DASHBOARD_PANELS`` from its
``admin`` module, which the admin's autodiscovery imports once (billing: sales and amounts
due; inventory: low stock; a webhooks app: its recent delivery failures), so this module
imports none of them. A function answers
``None`` to leave its panel out, for staff who may not view its records. Panels hold plain
figures and rows, rendered by one template (``admin/optiflow/dashboard.html``); the figures
come from the apps' selectors, each a constant number of queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class Metric:
    label: str
    value: str
    #: ``"danger"`` or ``"warning"`` draws attention to a figure that needs it.
    tone: str = ""
    link: str = ""


@dataclass(frozen=True)
class Row:
    cells: Sequence[str]
    link: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    #: Sorts panels left to right, top to bottom.
    order: int = 100
    metrics: Sequence[Metric] = ()
    headers: Sequence[str] = ()
    rows: Sequence[Row] = ()
    #: Shown when the panel has neither metrics nor rows.
    empty: str = ""
    #: A "see all" link: ``(label, url)``.
    more: tuple[str, str] | None = None
    note: str = ""


DASHBOARD_PANELS: list[Callable[[HttpRequest], Panel | None]] = []


def dashboard_panels(request: HttpRequest) -> list[Panel]:
    panels = (build(request) for build in DASHBOARD_PANELS)
    return sorted((panel for panel in panels if panel is not None), key=lambda p: p.order)
