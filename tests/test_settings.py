"""The secret key (SPEC §10): in a checkout, every command works after ``make run`` without
exporting anything, because the settings read the key the Makefile generated; a deployment,
which has no such file, still refuses to start without ``DJANGO_SECRET_KEY`` (debug off).

Each case runs a copy of ``optiflow/settings.py`` placed in a scratch checkout, so what the
settings find there (a ``.local/secret_key`` or none) is exactly what the case sets up."""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.servers import ROOT


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    (tmp_path / "optiflow" / "api").mkdir(parents=True)
    shutil.copy(ROOT / "optiflow" / "settings.py", tmp_path / "optiflow" / "settings.py")
    description = ROOT / "optiflow" / "api" / "schema_description.md"
    shutil.copy(description, tmp_path / "optiflow" / "api" / "schema_description.md")
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    monkeypatch.delenv("DJANGO_DEBUG", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/unused")  # no embedded server
    return tmp_path


def load(checkout: Path) -> dict:
    return runpy.run_path(str(checkout / "optiflow" / "settings.py"))


def test_a_checkout_uses_its_generated_key(checkout):
    (checkout / ".local").mkdir()
    (checkout / ".local" / "secret_key").write_text("generated-by-make\n")
    assert load(checkout)["SECRET_KEY"] == "generated-by-make"


def test_the_environment_key_wins(checkout, monkeypatch):
    (checkout / ".local").mkdir()
    (checkout / ".local" / "secret_key").write_text("generated-by-make\n")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "from-the-environment")
    assert load(checkout)["SECRET_KEY"] == "from-the-environment"


def test_a_deployment_without_a_key_refuses_to_start(checkout):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY is required"):
        load(checkout)
