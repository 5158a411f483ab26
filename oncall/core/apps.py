from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared plumbing that is about no team or runbook: it imports no other app."""

    name = "oncall.core"
    label = "core"
    verbose_name = "Core"
