"""Reading rotations: fetch, parse, store the shifts, reconcile the plans.

One writer for a rotation's shifts (``store_shifts``) and one for its plans'
shadow shifts (``reconcile.reconcile_plan``). A feed is fetched and parsed
before any transaction opens, so slow or hostile input never holds a write
lock; a feed that cannot be read leaves the previous shifts as they were.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from oncall.core.planning import request_planning
from oncall.rotations import fetch as feeds
from oncall.rotations.errors import FeedError
from oncall.rotations.models import PersonLink, Rotation, RotationShift
from oncall.rotations.parse import ReadShift, expand
from oncall.rotations.reconcile import Outcome, reconcile_plan

logger = logging.getLogger(__name__)


@dataclass
class ReadResult:
    """How one read went, for the command's line and the logs."""

    rotation: Rotation
    state: str  # "changed", "unchanged", "not_modified", "error"
    shifts: int = 0
    error: str = ""
    plans: Outcome = field(default_factory=Outcome)

    def line(self) -> str:
        head = f"{self.rotation.team.slug}/{self.rotation.name}: "
        if self.state == "error":
            return head + f"error: {self.error} (previous shifts kept)"
        words = {
            "changed": f"read {self.shifts} shifts",
            "unchanged": "unchanged",
            "not_modified": "not modified (304)",
        }[self.state]
        p = self.plans
        if p.scheduled or p.moved or p.cancelled or p.skipped or p.hand_edited:
            words += (
                f"; shadow shifts: {p.scheduled} scheduled, {p.moved} moved, "
                f"{p.cancelled} cancelled, {p.skipped} skipped, {p.hand_edited} edited by hand"
            )
        if p.clashes:
            words += "; skipped: " + "; ".join(p.clashes)
        return head + words


def people_for(team, shifts: Iterable[ReadShift]) -> dict[tuple[str, str], int | None]:
    """Who each (name, email) is: a user by email, else a name a lead linked, else nobody.

    Two queries, whatever the number of shifts.
    """
    pairs = {(s.name, s.email) for s in shifts}
    emails = {email for _name, email in pairs if email}
    by_email = dict(
        get_user_model()
        .objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails, is_active=True)
        .values_list("email_lower", "pk")
    )
    names = {name.casefold() for name, _email in pairs if name}
    by_name = dict(
        PersonLink.objects.filter(team=team, name__in=names).values_list("name", "user_id")
    )
    return {
        (name, email): by_email.get(email) or by_name.get(name.casefold()) for name, email in pairs
    }


@transaction.atomic
def store_shifts(rotation: Rotation, shifts: list[ReadShift]) -> None:
    """Replace the rotation's shifts with those just read."""
    people = people_for(rotation.team, shifts)
    RotationShift.objects.filter(rotation=rotation).delete()
    RotationShift.objects.bulk_create(
        RotationShift(
            rotation=rotation,
            key=s.key,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            name=s.name,
            email=s.email,
            person_id=people[(s.name, s.email)],
        )
        for s in shifts
    )


def reconcile_rotation(rotation: Rotation, *, now: datetime | None = None) -> Outcome:
    """Reconcile every plan of the rotation that has not ended; each plan fails alone."""
    now = now or timezone.now()
    outcome = Outcome()
    today = now.astimezone(rotation.team.tz).date()
    for plan in rotation.plans.filter(ends_on__gte=today):
        try:
            outcome.add(reconcile_plan(plan, now=now))
        except Exception:
            logger.exception(
                "shadow plan #%s of rotation #%s: reconcile failed", plan.pk, rotation.pk
            )
    if outcome.changed:
        # The schedule-change notices go out in seconds, not at the next
        # minute's planning round.
        transaction.on_commit(request_planning)
    return outcome


def _fail(rotation: Rotation, error: FeedError, now: datetime) -> None:
    logger.warning(
        "rotation #%s (%s/%s): %s", rotation.pk, rotation.team.slug, rotation.name, error.code
    )
    Rotation.objects.filter(pk=rotation.pk).update(
        error_code=error.code, error_params=error.params, error_at=now, last_read_at=now
    )
    rotation.error_code, rotation.error_params, rotation.last_read_at = (
        error.code,
        error.params,
        now,
    )


def read_rotation(rotation: Rotation, *, now: datetime | None = None) -> ReadResult:
    """Read one rotation's feed (or its uploaded file) and reconcile its plans.

    1. Fetch with the last ETag / Last-Modified; a 304, or a 200 whose bytes
       hash as last time, only stamps the read time.
    2. Parse and expand (bounded, see parse.py); any ``FeedError`` is
       recorded in words and the previous shifts stay.
    3. Store the shifts and reconcile each plan, then record the read.
    """
    now = now or timezone.now()
    try:
        if rotation.url:
            fetched = feeds.fetch(
                rotation.url, etag=rotation.etag, last_modified=rotation.last_modified
            )
        else:
            fetched = feeds.Fetched(rotation.uploaded.encode(), "", "")
        if fetched.body is None:
            Rotation.objects.filter(pk=rotation.pk).update(
                last_read_at=now, error_code="", error_params={}
            )
            return ReadResult(rotation, "not_modified")
        digest = hashlib.sha256(fetched.body).hexdigest()
        if digest == rotation.content_hash and not rotation.error_code:
            Rotation.objects.filter(pk=rotation.pk).update(
                last_read_at=now, etag=fetched.etag, last_modified=fetched.last_modified
            )
            return ReadResult(rotation, "unchanged")
        shifts = expand(fetched.body, rule=rotation.rule, zone=rotation.tz, now=now)
    except FeedError as error:
        _fail(rotation, error, now)
        return ReadResult(rotation, "error", error=str(error))

    store_shifts(rotation, shifts)
    rotation.etag, rotation.last_modified, rotation.content_hash = (
        fetched.etag,
        fetched.last_modified,
        digest,
    )
    rotation.last_read_at = rotation.last_changed_at = now
    rotation.error_code, rotation.error_params, rotation.error_at = "", {}, None
    rotation.save(
        update_fields=[
            "etag",
            "last_modified",
            "content_hash",
            "last_read_at",
            "last_changed_at",
            "error_code",
            "error_params",
            "error_at",
        ]
    )
    outcome = reconcile_rotation(rotation, now=now)
    return ReadResult(rotation, "changed", shifts=len(shifts), plans=outcome)


def read_rotations(
    rotations: Iterable[Rotation], *, now: datetime | None = None
) -> list[ReadResult]:
    """Read each rotation; one that fails unexpectedly is logged and the others go on."""
    results = []
    for rotation in rotations:
        try:
            results.append(read_rotation(rotation, now=now))
        except Exception:
            logger.exception("rotation #%s: read failed", rotation.pk)
            error = FeedError("failed")
            _fail(rotation, error, now or timezone.now())
            results.append(ReadResult(rotation, "error", error=str(error)))
    return results


def poll_every() -> timedelta:
    return timedelta(minutes=settings.ROTATIONS_POLL_MINUTES)


def read_due(*, now: datetime | None = None) -> list[ReadResult]:
    """Read the feeds whose interval has passed (the beat's task)."""
    now = now or timezone.now()
    every = poll_every()
    due = []
    for rotation in Rotation.objects.exclude(url="").select_related("team"):
        if not rotation.is_due(now, every):
            continue
        # Claimed by a conditional UPDATE: of two ticks that overlap, one reads it.
        claimed = Rotation.objects.filter(
            pk=rotation.pk, last_read_at=rotation.last_read_at
        ).update(last_read_at=now)
        if claimed:
            due.append(rotation)
    return read_rotations(due, now=now)


@transaction.atomic
def link_person(*, team, name: str, user) -> int:
    """Say who ``name`` in the team's feeds is; their shifts get them at once.

    Returns how many rotation shifts now name ``user``; the plans of the
    rotations concerned are reconciled afterwards by the caller.
    """
    PersonLink.objects.update_or_create(team=team, name=name.casefold(), defaults={"user": user})
    return RotationShift.objects.filter(rotation__team=team, person=None, name__iexact=name).update(
        person=user
    )
