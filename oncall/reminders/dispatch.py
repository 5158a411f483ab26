"""Dispatch: claim due reminders, send them, write down what happened.

The pattern of healthchecks' ``sendalerts``: a row is the job, a conditional
UPDATE claims it, the outcome is written back to the row.

- A row is claimed by moving it from ``pending`` to ``sending`` with this
  batch's token; only one dispatcher's UPDATE can match a given pending row,
  so two dispatchers (two workers, two beats) never send the same row.
- The outcome is written after each send, guarded by the token, so a crash
  loses at most the row in flight: it stays ``sending`` and is swept back to
  ``pending`` after ``SWEEP_AFTER``. A copy sent twice then carries the same
  Message-ID / Idempotency-Key.
- Retries are rows too: a transient failure sets ``next_attempt_at`` with
  backoff, never a long countdown in the broker.
- One row fails alone: a reminder that cannot be built (a missing profile, a
  template error) is failed with the reason, and any other error while
  handling a row is logged with its id and recorded on it; the rest of the
  batch goes on.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.mail import mailers
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from oncall.reminders import channels, practice
from oncall.reminders.models import MAX_ATTEMPTS, Reminder

logger = logging.getLogger(__name__)

State = Reminder.State
BATCH = 50
SWEEP_AFTER = timedelta(minutes=10)
# Waits after the 1st, 2nd, 3rd and 4th failed attempt; the 5th is the last.
BACKOFF = [
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
]


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    retrying: int = 0
    failed: int = 0
    swept: int = 0
    lost: int = 0  # claims taken over by another worker after a sweep
    released: int = 0  # claimed rows handed back when the time budget ran out
    cancelled: int = 0  # practice messages whose reason went away since planning
    more: bool = False  # stopped for time with due rows left


# What an error message may not carry into the row: NUL (PostgreSQL refuses
# it in text) and other control characters a peer might answer with.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
ERROR_MAX = 2000


def error_text(error: BaseException | str) -> str:
    """An error as stored on a row and shown on the reminders page."""
    text = str(error)
    if not text and isinstance(error, BaseException):
        text = error.__class__.__name__
    return _UNPRINTABLE.sub("?", text)[:ERROR_MAX]


def backoff(attempts: int) -> timedelta:
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def sweep_stuck(*, now: datetime) -> int:
    """Rows left ``sending`` by a worker that died go back in line (or fail, out of attempts)."""
    cutoff = now - SWEEP_AFTER
    Reminder.objects.filter(
        state=State.SENDING, claimed_at__lt=cutoff, attempts__gte=MAX_ATTEMPTS
    ).update(
        state=State.FAILED,
        last_error="The worker sending it stopped, and no attempts are left.",
        updated_at=now,
    )
    return Reminder.objects.filter(state=State.SENDING, claimed_at__lt=cutoff).update(
        state=State.PENDING, next_attempt_at=now, updated_at=now
    )


def claim(*, now: datetime, limit: int = BATCH) -> tuple[str, list[Reminder]]:
    """Move up to ``limit`` due pending rows to ``sending`` under a new token.

    1. Pick due pending rows, oldest first. On PostgreSQL the pick locks them
       with SKIP LOCKED, so a concurrent dispatcher takes the next rows
       instead of waiting for ours.
    2. The UPDATE repeats ``state = pending``: a row someone else claimed
       between the pick and the UPDATE is not matched, on any database.
    3. Read back exactly the rows carrying our token.
    """
    token = uuid.uuid4().hex
    with transaction.atomic():
        due = Reminder.objects.filter(state=State.PENDING, next_attempt_at__lte=now).order_by(
            "next_attempt_at", "pk"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        pks = list(due.values_list("pk", flat=True)[:limit])
        if not pks:
            return token, []
        Reminder.objects.filter(pk__in=pks, state=State.PENDING).update(
            state=State.SENDING,
            claimed_at=now,
            claimed_by=token,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    rows = Reminder.objects.filter(claimed_by=token, state=State.SENDING).select_related(
        "recipient__profile"
    )
    return token, list(rows.order_by("next_attempt_at", "pk"))


def _finish(row: Reminder, token: str, **changes) -> None:
    # Guarded by the token: if the row was swept and re-claimed meanwhile,
    # the newer claim owns the outcome.
    if "last_error" in changes:
        changes["last_error"] = error_text(changes["last_error"])
    Reminder.objects.filter(pk=row.pk, claimed_by=token, state=State.SENDING).update(
        updated_at=timezone.now(), **changes
    )


def _still_ours(row: Reminder, token: str) -> bool:
    """Renew the claim just before sending; False if the row was swept meanwhile.

    A batch is claimed at once; if an earlier row of it hung for longer than
    the sweep's 10 minutes, later rows may have been handed to another worker.
    """
    return bool(
        Reminder.objects.filter(pk=row.pk, claimed_by=token, state=State.SENDING).update(
            claimed_at=timezone.now()
        )
    )


def _release(row: Reminder, token: str) -> None:
    """Hand a claimed, unsent row back: not an attempt."""
    _finish(row, token, state=State.PENDING, attempts=F("attempts") - 1)


def deliver(row: Reminder, token: str, *, mailer, now: datetime) -> str:
    """Send one claimed row and record the outcome; return the new state name.

    1. Renew the claim; a row taken over by another dispatcher is left alone.
       A practice message whose reason went away since planning (the drill
       ended, the page was acknowledged in time) is cancelled, not sent.
    2. Prepare: quiet hours, then the message. A row that cannot be prepared
       (a missing profile, a template that fails) fails at once with the
       reason: retrying the same row cannot help.
    3. Send: a permanent error fails the row, anything else is retried with
       backoff until the attempts run out.
    """
    if not _still_ours(row, token):
        return "lost"
    try:
        wanted = practice.still_wanted(row)
    except Exception:  # noqa: BLE001 - when in doubt, send: a page must not be lost
        logger.exception("reminder %s: could not check it is still wanted", row.pk)
        wanted = True
    if not wanted:
        _finish(row, token, state=State.CANCELLED, attempts=F("attempts") - 1)
        return "cancelled"
    try:
        until = None if row.is_urgent else row.recipient.profile.quiet_until(now)
        prepared = None if until is not None else channels.prepare(row)
    except channels.PermanentError as e:
        _finish(row, token, state=State.FAILED, last_error=e)
        return "failed"
    except Exception as e:  # noqa: BLE001 - this row fails, the batch goes on
        logger.exception("reminder %s: cannot be prepared", row.pk)
        error = f"Could not be prepared ({e.__class__.__name__}: {e})"
        _finish(row, token, state=State.FAILED, last_error=error)
        return "failed"
    if until is not None:
        # Not an attempt: hand it back, due again when the quiet hours end.
        _finish(row, token, state=State.PENDING, next_attempt_at=until, attempts=F("attempts") - 1)
        return "deferred"
    try:
        channels.send(row, prepared, mailer=mailer)
    except channels.PermanentError as e:
        _finish(row, token, state=State.FAILED, last_error=e)
        return "failed"
    except Exception as e:  # noqa: BLE001 - anything unexpected is retried, boundedly
        if not isinstance(e, channels.TransientError):
            logger.exception("reminder %s: unexpected error", row.pk)
        if row.attempts >= MAX_ATTEMPTS:
            _finish(row, token, state=State.FAILED, last_error=e)
            return "failed"
        _finish(
            row,
            token,
            state=State.PENDING,
            next_attempt_at=now + backoff(row.attempts),
            last_error=e,
        )
        return "retrying"
    _finish(row, token, state=State.SENT, sent_at=timezone.now(), last_error="")
    return "sent"


def deliver_alone(row: Reminder, token: str, *, mailer, now: datetime) -> str:
    """``deliver``, with any error it lets through kept to this row.

    Such an error comes from recording the outcome (the database refused the
    write). The row is failed with the reason if the database takes that;
    otherwise it stays claimed and the sweep hands it back later, its attempt
    counted, so it cannot come back forever.
    """
    # No transaction around it: a send may take seconds, and on SQLite an open
    # transaction would hold the write lock all that time.
    try:
        return deliver(row, token, mailer=mailer, now=now)
    except Exception as e:  # noqa: BLE001 - one row's trouble stays with that row
        logger.exception("reminder %s: could not record the outcome", row.pk)
        try:
            _finish(row, token, state=State.FAILED, last_error=f"{e.__class__.__name__}: {e}")
        except Exception:  # noqa: BLE001
            logger.exception("reminder %s: could not mark it failed either", row.pk)
        return "failed"


def dispatch_due(
    *,
    now: datetime | None = None,
    time_budget: float | None = None,
    on_backlog: Callable[[], None] | None = None,
) -> DispatchResult:
    """Send every due reminder, batch by batch.

    1. Sweep rows stuck in ``sending`` back to ``pending``.
    2. Claim a batch; send each row through one open mail connection.
    3. After a full first batch, call ``on_backlog`` once (the task enqueues a
       sibling, so a backlog spreads over the workers).
    4. Repeat until nothing is due, or the time budget is spent (``more``).
    """
    fixed_now = now
    started = time.monotonic()
    result = DispatchResult(swept=sweep_stuck(now=fixed_now or timezone.now()))
    mailer = mailers.default
    first = True
    try:
        while True:
            now = fixed_now or timezone.now()
            token, rows = claim(now=now)
            if not rows:
                break
            result.claimed += len(rows)
            if first and len(rows) == BATCH and on_backlog is not None:
                on_backlog()
            first = False
            if any(row.channel == Reminder.Channel.EMAIL for row in rows):
                channels.open_mailer(mailer)
            for index, row in enumerate(rows):
                if time_budget is not None and time.monotonic() - started > time_budget:
                    # Out of time mid-batch: the rest go back for the next dispatch.
                    for unsent in rows[index:]:
                        _release(unsent, token)
                    result.released += len(rows) - index
                    result.more = True
                    break
                outcome = deliver_alone(row, token, mailer=mailer, now=now)
                setattr(result, outcome, getattr(result, outcome) + 1)
            if result.more:
                break
            if time_budget is not None and time.monotonic() - started > time_budget:
                result.more = True
                break
    finally:
        channels.close_mailer(mailer)
    return result
