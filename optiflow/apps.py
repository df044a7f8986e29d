from django.apps import AppConfig


class OptiflowConfig(AppConfig):
    """Holds project-wide management commands (``seed_demo``); no models."""

    name = "optiflow"
