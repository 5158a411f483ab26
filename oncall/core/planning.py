"""Asking the reminders app for a planning round now, from an app below it.

Reminders are planned every minute by beat. Some changes want their messages
sooner: a page that fired during a shift or a drill, shadow shifts a rotation
moved. The apps that make them sit below reminders in the import order, so
they name its task instead of importing it.
"""

import logging

from celery import current_app
from django.core.cache import cache

logger = logging.getLogger(__name__)

PLAN_TASK = "oncall.reminders.tasks.plan"
PLAN_MARKER = "alerts:planning-requested"
PLAN_DELAY = 1  # second


def request_planning() -> None:
    """Ask the reminders app to plan in a second; with the broker down, beat's next tick does.

    A storm during a shift posts many payloads a second; they share one
    planning round. The round runs ``PLAN_DELAY`` after the first request,
    when the marker that held back the others expires, so every change that
    committed meanwhile is planned by it, and the next request after it
    starts a new round.
    """
    if not cache.add(PLAN_MARKER, True, PLAN_DELAY):
        return
    try:
        current_app.send_task(PLAN_TASK, countdown=PLAN_DELAY)
    except Exception:  # noqa: BLE001 - the change is stored; planning comes within a minute
        cache.delete(PLAN_MARKER)
        logger.warning("could not ask for a planning round; beat's next one will do", exc_info=True)
