"""The Alertmanager receiver: read a webhook payload, store its alerts, answer fast.

Nothing here sends anything. A live page to a trainee is a reminder that the
reminders app plans from the stored occurrences; the receiver only asks for a
planning round at once when a new alert lands in a team with a shift on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from oncall.alerts.models import AHEAD_OF_NOW, AlertOccurrence, AlertSource
from oncall.alerts.resolve import RunbookIndex
from oncall.core.planning import request_planning
from oncall.core.text import check_mapping, check_moment, check_text
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Team

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes
MAX_ALERTS = 10_000
MAX_LABELS = 100
MAX_LABEL_CHARS = 1000
MAX_ANNOTATION_CHARS = 8000
CHUNK = 500
# Alertmanager writes the zero time for "no end yet".
ZERO_TIME_YEAR = 1
# A start or an end ahead of the clock by more than this is refused: a day
# covers any skew between machines and refuses the far future, which no page
# can show in a time zone east of UTC.
MAX_AHEAD = AHEAD_OF_NOW
SOURCE_SEEN_EVERY = timedelta(minutes=1)
# An alert a drill posted to the team's Alertmanager comes back with this label
# (its value: the drill's id). It is never a real alert.
DRILL_LABEL = "oncall_drill"


class PayloadError(ValueError):
    """The payload as a whole cannot be read; the message is the one-line reason."""


@dataclass
class Incoming:
    index: int
    fingerprint: str
    starts_at: datetime
    ends_at: datetime | None
    status: str
    alertname: str
    labels: dict
    annotations: dict
    generator_url: str

    @property
    def key(self) -> tuple[str, datetime]:
        return self.fingerprint, self.starts_at


@dataclass
class ReceiveResult:
    alerts: int = 0
    new: int = 0
    updated: int = 0
    drill: int = 0  # handed to the drills app, never stored here
    rejected: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "status": "ok",
            "alerts": self.alerts,
            "new": self.new,
            "updated": self.updated,
            "drill": self.drill,
            "rejected": self.rejected[:50],
            "notes": self.notes[:50],
        }


def parse_payload(body: bytes) -> tuple[list, int]:
    """The ``alerts`` of a version 4 webhook payload and how many Alertmanager left out
    (``truncatedAlerts``, when its ``max_alerts`` is set); PayloadError naming the problem."""
    try:
        payload = json.loads(body)
    except UnicodeDecodeError:
        raise PayloadError("the body is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise PayloadError(f"the body is not JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise PayloadError("the body nests too deeply to be a webhook payload") from None
    except ValueError as e:  # e.g. an integer of thousands of digits
        raise PayloadError(f"the body is not JSON we can read ({str(e)[:80]})") from None
    if not isinstance(payload, dict):
        raise PayloadError("the body is JSON but not an object")
    version = payload.get("version")
    if version != "4":
        raise PayloadError(
            f"version {version!r} is not supported: this receiver reads Alertmanager's "
            "webhook payload version 4"
        )
    if "alerts" not in payload:
        raise PayloadError("the payload has no alerts list")
    alerts = payload["alerts"]
    if not isinstance(alerts, list):
        raise PayloadError("alerts is not a list")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(f"{len(alerts)} alerts in one payload; the limit is {MAX_ALERTS}")
    truncated = payload.get("truncatedAlerts")
    return alerts, truncated if isinstance(truncated, int) and truncated > 0 else 0


def parse_time(value, name: str, *, latest: datetime) -> datetime | None:
    """An RFC 3339 time in UTC, None for Alertmanager's zero time; ValueError naming the
    problem, as for a time outside the years 2000 to 2999 or after ``latest``."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value[:40]!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} {value[:40]!r} has no time zone")
    if moment.year <= ZERO_TIME_YEAR:
        return None
    # Bounded before it is converted: 9999-12-31T23:59:59-14:00 is a valid
    # time that UTC cannot hold.
    check_moment(moment, name=name, latest=latest)
    return moment.astimezone(UTC)


def _strings(value, name: str, limit: int) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} is not an object")
    if len(value) > MAX_LABELS:
        raise ValueError(f"{name} has {len(value)} entries; the limit is {MAX_LABELS}")
    return {
        str(k)[:200]: (v if isinstance(v, str) else json.dumps(v))[:limit] for k, v in value.items()
    }


def parse_alert(index: int, raw, *, now: datetime) -> Incoming:
    """One alert of the payload; ValueError with the reason when it cannot be stored.

    Text passes the boundary rule (``oncall.core.text``) field by field, so a
    NUL or a lone surrogate refuses this alert, named, and not the payload; a
    time must lie in the years 2000 to 2999 and at most ``MAX_AHEAD`` past
    ``now``.
    """
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    labels = check_mapping(_strings(raw.get("labels"), "labels", MAX_LABEL_CHARS), name="labels")
    alertname = labels.get("alertname", "").strip()
    if not alertname:
        raise ValueError("labels has no alertname")
    annotations = check_mapping(
        _strings(raw.get("annotations"), "annotations", MAX_ANNOTATION_CHARS), name="annotations"
    )
    # Whole seconds: the bound is read in a rejection's reason.
    latest = (now + MAX_AHEAD).replace(microsecond=0)
    starts_at = parse_time(raw.get("startsAt"), "startsAt", latest=latest)
    if starts_at is None:
        raise ValueError("startsAt is the zero time")
    ends_at = parse_time(raw.get("endsAt") or "0001-01-01T00:00:00Z", "endsAt", latest=latest)
    status = raw.get("status", "firing")
    if status not in AlertOccurrence.Status.values:
        raise ValueError(f"status {str(status)[:20]!r} is neither firing nor resolved")
    fingerprint = raw.get("fingerprint")
    if fingerprint is None:
        # Alertmanager always sends one; a hand-made payload may not.
        canonical = json.dumps(sorted(labels.items()))
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    if not isinstance(fingerprint, str) or not 0 < len(fingerprint) <= 64:
        raise ValueError("fingerprint is not a string of 1 to 64 characters")
    check_text(fingerprint, name="fingerprint")
    generator_url = raw.get("generatorURL") or ""
    if isinstance(generator_url, str):
        generator_url = check_text(generator_url[:2000], name="generatorURL")
    else:
        generator_url = ""
    return Incoming(
        index=index,
        fingerprint=fingerprint,
        starts_at=starts_at,
        ends_at=ends_at if status == AlertOccurrence.Status.RESOLVED else None,
        status=status,
        alertname=alertname[:200],
        labels=labels,
        annotations=annotations,
        generator_url=generator_url,
    )


# What to do with alerts labelled DRILL_LABEL: the drills app, above this one,
# registers it (oncall/drills/via_alertmanager.py). It is called as
# handler(source=, alerts=[Incoming], now=) and returns one note per alert it
# could not attach, naming the alert's index and the reason.
DrillHandler = Callable[..., list[str]]
_drill_handler: list[DrillHandler] = []


def register_drill_handler(handler: DrillHandler) -> None:
    """Set the one handler for drill alerts (a second registration replaces the first)."""
    _drill_handler[:] = [handler]


def _hand_to_drills(source: AlertSource, alerts: list[Incoming], now: datetime) -> list[str]:
    """Give drill alerts to the drills app; without one, each is ignored with a note."""
    if not alerts:
        return []
    if not _drill_handler:
        notes = [
            f"alert {a.index}: labelled {DRILL_LABEL} but no drill can take it; ignored"
            for a in alerts
        ]
    else:
        try:
            notes = _drill_handler[0](source=source, alerts=alerts, now=now)
        except Exception:
            # The payload's real alerts are stored all the same; Alertmanager's
            # next repeat of the group brings the drill alerts again.
            logger.exception("alert source %s: drill alerts could not be attached", source.pk)
            notes = [
                f"alert {a.index}: could not be attached to its drill; ignored" for a in alerts
            ]
    for note in notes:
        logger.info("alert source %s: %s", source.pk, note)
    return notes


def receive(*, source: AlertSource, alerts: list, now: datetime | None = None) -> ReceiveResult:
    """Store a payload's alerts as occurrences; re-deliveries update, never double.

    1. Parse each alert on its own: a bad one is rejected with its index and
       reason, the others go on. An alert labelled ``oncall_drill`` is a
       drill's (it went out through the team's Alertmanager and came back):
       it is handed to the drills app and never stored as an occurrence.
    2. File each under the source's team, or under the team its ``team``
       label names when the source may file for that team
       (``AlertSource.other_teams``); a label naming any other team is
       ignored, and the answer and the occurrence's note say so.
    3. Resolve runbooks for all names at once (the receiver keeps what the
       trainee was shown: the runbook at the time it fired). Steps 2 and 3
       only for alerts not stored yet; a re-delivery costs a read and an UPDATE.
    4. In one transaction: insert new (source, fingerprint, startsAt) keys
       with ``ignore_conflicts`` — a concurrent post of the same group cannot
       make a second row — then update the rows that exist: a resolve sets
       the end (a late firing copy never reopens a resolved one); every copy
       counts as a delivery. Only this source's rows are read or written, so
       no other source can resolve, count or pre-claim them.
    5. After commit, when a new firing alert landed in a team with a shadow
       shift on, ask for a planning round in a second instead of at the
       next tick (a minute).
    """
    now = now or timezone.now()
    result = ReceiveResult(alerts=len(alerts))
    incoming: dict[tuple[str, datetime], Incoming] = {}
    drill_alerts: list[Incoming] = []
    for index, raw in enumerate(alerts):
        try:
            alert = parse_alert(index, raw, now=now)
        except ValueError as e:
            result.rejected.append({"index": index, "reason": str(e)})
            continue
        if DRILL_LABEL in alert.labels:
            drill_alerts.append(alert)
            continue
        # The same alert twice in one payload: the later copy wins.
        incoming[alert.key] = alert
    result.drill = len(drill_alerts)
    result.notes.extend(_hand_to_drills(source, drill_alerts, now))
    if not incoming:
        return result

    # Read and build outside the transaction: on SQLite the transaction holds
    # the database's write lock, so it should hold it for the writes only.
    existing = _existing(source, incoming)
    fresh = [alert for key, alert in incoming.items() if key not in existing]
    new = _new_rows(fresh, source=source, now=now, notes=result.notes)

    with transaction.atomic():
        created_firing = []
        if new:
            AlertOccurrence.objects.bulk_create(new, ignore_conflicts=True, batch_size=CHUNK)
            # Rows a concurrent post inserted first are existing rows to us:
            # they carry another received_at than ours.
            theirs = _existing(source, {row_key(r) for r in new}, exclude_received_at=now)
            existing.update(theirs)
            result.new = len(new) - len(theirs)
            created_firing = [
                row.team_id
                for row in new
                if row_key(row) not in theirs and row.status == AlertOccurrence.Status.FIRING
            ]
        resolved = [
            AlertOccurrence(pk=row.pk, status=incoming[key].status, ends_at=incoming[key].ends_at)
            for key, row in existing.items()
            if incoming[key].status == AlertOccurrence.Status.RESOLVED
            and (row.status, row.ends_at) != (incoming[key].status, incoming[key].ends_at)
        ]
        if resolved:
            AlertOccurrence.objects.bulk_update(resolved, ["status", "ends_at"], batch_size=CHUNK)
        pks = [row.pk for row in existing.values()]
        for start in range(0, len(pks), CHUNK):
            AlertOccurrence.objects.filter(pk__in=pks[start : start + CHUNK]).update(
                last_seen_at=now, deliveries=F("deliveries") + 1
            )
        result.updated = len(existing)
        if created_firing and _shift_on(set(created_firing), now):
            transaction.on_commit(request_planning)
    if source.last_used_at is None or source.last_used_at < now - SOURCE_SEEN_EVERY:
        # At most one write a minute per source, not one per post of a storm.
        AlertSource.objects.filter(pk=source.pk).update(last_used_at=now)
    return result


def _new_rows(alerts: list[Incoming], *, source: AlertSource, now, notes: list) -> list:
    """Occurrence rows for alerts not stored yet: team chosen, runbook resolved."""
    if not alerts:
        return []
    named = {a.labels.get("team", "") for a in alerts} - {"", source.team.slug}
    # The teams this source may file for, read only when an alert names another team.
    allowed = {t.slug: t for t in source.other_teams.all()} if named else {}
    index = RunbookIndex(
        {a.alertname for a in alerts}, {a.annotations.get("runbook_url", "") for a in alerts}
    )
    rows = []
    for alert in alerts:
        slug = alert.labels.get("team", "")
        team = allowed.get(slug, source.team)
        note = ""
        if slug and slug != source.team.slug and slug not in allowed:
            # One wording whether or not such a team exists: a token holder
            # learns nothing about other teams from it.
            note = (
                f"team label {slug[:60]!r} ignored: this source files only for "
                f"{_team_list(source, allowed)}; filed under {source.team.slug}"
            )
            notes.append(f"alert {alert.index}: {note}")
        found = index.resolve(
            alert.alertname,
            team=team.slug,
            service=alert.labels.get("service", ""),
            runbook_url=alert.annotations.get("runbook_url", ""),
        )
        rows.append(
            AlertOccurrence(
                fingerprint=alert.fingerprint,
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
                status=alert.status,
                team=team,
                source=source,
                alertname=alert.alertname,
                # lower() can lengthen a name ("İ" becomes two characters).
                alert_key=alert.alertname.lower()[:200],
                labels=alert.labels,
                annotations=alert.annotations,
                generator_url=alert.generator_url,
                runbook=found.runbook,
                runbook_count=len(found.runbooks),
                note=note[:300],
                received_at=now,
                last_seen_at=now,
            )
        )
    return rows


def _team_list(source: AlertSource, allowed: dict[str, Team]) -> str:
    slugs = [source.team.slug, *sorted(allowed)]
    return ", ".join(slugs[:5]) + (", …" if len(slugs) > 5 else "")


def row_key(row: AlertOccurrence) -> tuple[str, datetime]:
    return row.fingerprint, row.starts_at


@dataclass
class Stored:
    """What the update step needs of a stored occurrence."""

    pk: int
    status: str
    ends_at: datetime | None


def _existing(
    source: AlertSource, keys, *, exclude_received_at: datetime | None = None
) -> dict[tuple, Stored]:
    """This source's occurrences for these (fingerprint, startsAt) keys (and not
    received at a moment)."""
    wanted = set(keys)
    fingerprints = sorted({fp for fp, _starts in wanted})
    found: dict[tuple[str, datetime], Stored] = {}
    for start in range(0, len(fingerprints), CHUNK):
        chunk = set(fingerprints[start : start + CHUNK])
        starts = [moment for fp, moment in wanted if fp in chunk]
        # A fingerprint repeats every time the alert fires again; the span of
        # start times keeps the read to this payload's firings (two
        # parameters, where a list of every start would be a hundred).
        rows = AlertOccurrence.objects.filter(
            source=source,
            fingerprint__in=chunk,
            starts_at__gte=min(starts),
            starts_at__lte=max(starts),
        )
        if exclude_received_at is not None:
            rows = rows.exclude(received_at=exclude_received_at)
        for pk, fingerprint, starts_at, status, ends_at in rows.values_list(
            "pk", "fingerprint", "starts_at", "status", "ends_at"
        ):
            key = (fingerprint, starts_at.astimezone(UTC))
            if key in wanted:
                found[key] = Stored(pk, status, ends_at)
    return found


def _shift_on(team_ids: set[int], now: datetime) -> bool:
    return (
        ShadowShift.objects.exclude(state=ShadowShift.State.CANCELLED)
        .filter(team_id__in=team_ids, starts_at__lte=now, ends_at__gt=now)
        .exists()
    )
