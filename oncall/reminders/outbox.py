"""Writing planned reminders into the outbox, where one refused row fails alone.

A reminder carries text copied from stored rows: an alert's summary, a
runbook's title, a person's name. A row the database (or its driver) refuses
must not take the rest of the round with it. Two refusals seen for real:

- SQLite's driver cannot encode a lone surrogate. An alert annotation holding
  one was stored (JSON escapes it), and every round's insert of its live page
  then failed, so nobody was reminded of anything until the alert was deleted.
- A recipient deleted while a round runs (a person removed in the admin): the
  reminder's foreign key is refused when the insert commits, on both databases.

How it stays cheap:

1. The rows are written in batches, each with one statement (the usual case),
   in its own savepoint — its own transaction when the caller holds none, as
   the plan task does, so the deferred foreign-key check happens there too.
2. When the database refuses a batch, it is rolled back and each of its rows
   is written alone, again in its own savepoint.
3. A row refused alone is logged with its kind and key, counted, and skipped.

Only refusals of a row's values are caught (integrity and data errors, and the
driver's encoding and overflow errors); a lost connection or a lock timeout
is not about one row, and propagates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import batched

from django.db import DataError, IntegrityError, transaction

from oncall.reminders.models import Reminder

logger = logging.getLogger(__name__)

BATCH = 500  # rows per statement: under SQLite's bound-parameter limit once Django splits it
REFUSALS = (IntegrityError, DataError, UnicodeError, OverflowError)


@dataclass
class Written:
    done: int = 0
    refused: int = 0


def insert(rows: Sequence[Reminder]) -> Written:
    """Insert new reminders; a key that already has a row is left alone (a racing plan)."""
    return _write(
        rows,
        lambda batch: Reminder.objects.bulk_create(batch, ignore_conflicts=True),
        action="insert",
    )


def refresh(rows: Sequence[Reminder], fields: list[str]) -> Written:
    """Write ``fields`` of reminders that exist; a refused row keeps what it had."""
    return _write(rows, lambda batch: Reminder.objects.bulk_update(batch, fields), action="update")


def _write(rows: Sequence[Reminder], write: Callable[[list[Reminder]], object], *, action: str):
    written = Written()
    for batch in batched(rows, BATCH):
        try:
            with transaction.atomic():
                write(list(batch))
        except REFUSALS:
            # Somewhere in the batch is a row the database will not take: find it.
            pass
        else:
            written.done += len(batch)
            continue
        for row in batch:
            try:
                with transaction.atomic():
                    write([row])
            except REFUSALS as refusal:
                written.refused += 1
                logger.error(
                    "the database refused to %s a %s reminder (%s%s): %s; skipped",
                    action,
                    row.kind,
                    f"id {row.pk}, " if row.pk else "",
                    row.dedupe_key,
                    _one_line(refusal),
                )
            else:
                written.done += 1
    return written


def _one_line(refusal: Exception) -> str:
    return " ".join(f"{type(refusal).__name__}: {refusal}".split())
