"""Celery tasks: "go and look" messages. The rows are the work.

Both tasks take no arguments and are safe to run twice or at once in several
workers: ``plan`` upserts by key, ``dispatch`` claims rows with a conditional
UPDATE. Losing a message (a broker restart) costs one beat interval, nothing
more: beat sends the next one.
"""

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from oncall.reminders.dispatch import dispatch_due
from oncall.reminders.models import Reminder
from oncall.reminders.plan import plan_reminders

logger = logging.getLogger(__name__)

# Under beat's 30 s interval, far under half the broker's visibility timeout.
DISPATCH_TIME_BUDGET = 25.0


@shared_task(name="oncall.reminders.tasks.plan", ignore_result=True, max_retries=0)
def plan() -> None:
    """Every minute: make the outbox agree with shifts, runbooks and onboardings."""
    result = plan_reminders()
    logger.info(
        "planned reminders: %d wanted, %d new, %d updated, %d revived, %d cancelled, "
        "%d skipped, %d refused by the database",
        result.wanted,
        result.created,
        result.updated,
        result.revived,
        result.cancelled,
        result.skipped,
        result.refused,
    )
    if Reminder.objects.filter(
        state=Reminder.State.PENDING, next_attempt_at__lte=timezone.now()
    ).exists():
        # Something is due now (a shift planned at short notice): no need to
        # wait for the next dispatch tick.
        transaction.on_commit(enqueue_dispatch)


@shared_task(name="oncall.reminders.tasks.dispatch", ignore_result=True, max_retries=0)
def dispatch() -> None:
    """Every 30 s (and on demand): send what is due."""
    result = dispatch_due(time_budget=DISPATCH_TIME_BUDGET, on_backlog=enqueue_dispatch)
    if result.claimed or result.swept:
        logger.info(
            "dispatched reminders: %d claimed, %d sent, %d deferred, %d retrying, "
            "%d failed, %d cancelled, %d swept back",
            result.claimed,
            result.sent,
            result.deferred,
            result.retrying,
            result.failed,
            result.cancelled,
            result.swept,
        )
    if result.more:
        enqueue_dispatch()


def enqueue_dispatch() -> None:
    """Ask for a dispatch now; with the broker down, beat's next tick does it instead."""
    try:
        dispatch.delay()
    except Exception:  # noqa: BLE001 - the rows wait in the database either way
        logger.warning("could not enqueue a dispatch; beat will send the next one", exc_info=True)
