"""What every benchmark module shares: Django set up against the configured database, and
progress messages on stderr (stdout carries only the figures)."""

from __future__ import annotations

import logging
import math
import os
import sys
import warnings
from collections.abc import Sequence

import django


def setup_django() -> None:
    # WhiteNoise warns about the collected static folder, which only `make run` creates.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optiflow.settings")
    django.setup()
    # One access-log line per in-process request would bury the progress messages.
    logging.getLogger("optiflow.access").setLevel(logging.WARNING)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]
