"""What the database knows about the app's health, read at each scrape.

Reminders, runbook syncs and beat's heartbeat are rows in the database, the
store of record, so they are read from there when Prometheus asks: the
figures are the same whichever web process answers, and nothing is lost when
a worker restarts. Each scrape runs a fixed number of queries (seven), none
of which grows with the number of folders; the lateness histogram keeps a
running tally in the cache so it reads only the reminders sent since the
last scrape.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from oncall.alerts.models import AlertOccurrence
from oncall.reminders.models import Reminder
from oncall.runbooks.models import SyncRun
from oncall.teams.models import Heartbeat

logger = logging.getLogger(__name__)

# Seconds between "due for sending" and "sent": dispatch runs every 30 s, so
# a healthy outbox sits in the first few buckets.
LATENESS_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)
FAILED_RECENTLY = timedelta(hours=1)
RECEIVED_RECENTLY = timedelta(hours=1)
# Rows sent within this long before a scrape wait for the next one: by then
# the UPDATE that marked them sent has committed.
SETTLE = timedelta(minutes=1)
TALLY_KEY = "metrics:dispatch-lateness:v1"
# Folders are few; the newest runs are enough to find each one's last sync.
SYNC_RUNS_READ = 200
_FAILED_FILES = re.compile(r"\bfailed (\d+)\b")


class AppCollector(Collector):
    """Reminders, runbook syncs, beat and the alert receiver, as Prometheus metrics."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        up = GaugeMetricFamily(
            "oncall_metrics_database_up",
            "1 when the database answered this scrape's queries, 0 when it did not.",
        )
        try:
            metrics = [
                *reminder_metrics(now),
                *sync_metrics(now),
                *beat_metrics(now),
                *alert_metrics(now),
            ]
        except Exception:  # noqa: BLE001 - a scrape reports the failure, it does not 500
            logger.exception("metrics: the database did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics


def alert_metrics(now: datetime) -> list[Metric]:
    """What the Alertmanager receiver took in: occurrences by status, and the last hour's."""
    occurrences = GaugeMetricFamily(
        "oncall_alert_occurrences",
        "Alert occurrences stored from Alertmanager, by status and whether a runbook answers.",
        labels=["status", "runbook"],
    )
    recent = Q(received_at__gte=now - RECEIVED_RECENTLY)
    rows = list(
        AlertOccurrence.objects.order_by()
        .values("status")
        .annotate(
            with_runbook=Count("pk", filter=Q(runbook__isnull=False)),
            without=Count("pk", filter=Q(runbook__isnull=True)),
            new_last_hour=Count("pk", filter=recent),
            deliveries_last_hour=Sum(
                "deliveries", filter=Q(last_seen_at__gte=now - RECEIVED_RECENTLY)
            ),
        )
    )
    by_status = {row["status"]: row for row in rows}
    new = GaugeMetricFamily(
        "oncall_alert_occurrences_new_last_hour",
        "Occurrences first received in the last hour.",
    )
    deliveries = GaugeMetricFamily(
        "oncall_alert_deliveries_last_hour",
        "Deliveries (Alertmanager's posts and re-posts) of occurrences seen in the last hour.",
    )
    for status in AlertOccurrence.Status.values:
        row = by_status.get(status, {})
        occurrences.add_metric([status, "yes"], row.get("with_runbook", 0))
        occurrences.add_metric([status, "no"], row.get("without", 0))
    new.add_metric([], sum(row["new_last_hour"] for row in rows))
    deliveries.add_metric([], sum(row["deliveries_last_hour"] or 0 for row in rows))
    return [occurrences, new, deliveries]


def reminder_metrics(now: datetime) -> list[Metric]:
    by_state = GaugeMetricFamily(
        "oncall_reminders", "Reminders in the outbox, by state and kind.", labels=["state", "kind"]
    )
    # One pass over the outbox for both the states and the recent failures.
    recent_failure = Q(state=Reminder.State.FAILED, updated_at__gte=now - FAILED_RECENTLY)
    grouped = list(
        Reminder.objects.order_by()
        .values("state", "kind")
        .annotate(n=Count("pk"), failed_recently=Count("pk", filter=recent_failure))
    )
    counts = {(row["state"], row["kind"]): row["n"] for row in grouped}
    failed_counts: dict[str, int] = {}
    for row in grouped:
        failed_counts[row["kind"]] = failed_counts.get(row["kind"], 0) + row["failed_recently"]
    for state in Reminder.State.values:
        for kind in Reminder.Kind.values:
            by_state.add_metric([state, kind], counts.get((state, kind), 0))

    oldest = GaugeMetricFamily(
        "oncall_reminders_oldest_due_age_seconds",
        "How long the oldest reminder due for sending has waited (0 when none waits).",
    )
    first_due = Reminder.objects.filter(
        state=Reminder.State.PENDING, next_attempt_at__lte=now
    ).aggregate(at=Min("next_attempt_at"))["at"]
    oldest.add_metric([], (now - first_due).total_seconds() if first_due else 0.0)

    failed = GaugeMetricFamily(
        "oncall_reminders_failed_last_hour",
        "Reminders that failed for good in the last hour, by kind.",
        labels=["kind"],
    )
    for kind in Reminder.Kind.values:
        failed.add_metric([kind], failed_counts.get(kind, 0))

    return [by_state, oldest, failed, lateness_histogram(now)]


class SecondsBetween(Func):
    """``end - start`` in seconds, in the database's own arithmetic.

    Django's duration arithmetic on SQLite calls a Python function per row;
    over every sent reminder that made a scrape of 100,000 rows take seconds.
    julianday() and EXTRACT(EPOCH ...) are native to each database.
    """

    output_field = FloatField()

    def __init__(self, start, end):
        super().__init__(start, end)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))::float",
            arg_joiner=" - ",
            **extra,
        )


def _tally(after: datetime | None, upto: datetime) -> tuple[list[int], float]:
    """Sent rows per lateness bucket (the last is "over every bucket"), and their sum.

    One pass: each row falls in the first bucket that holds it (CASE stops at
    the first match); the lateness is worked out in the database's own
    arithmetic, once per row.
    """
    first_bucket = Case(
        *[
            When(lateness__lte=seconds, then=Value(index))
            for index, seconds in enumerate(LATENESS_BUCKETS)
        ],
        default=Value(len(LATENESS_BUCKETS)),
        output_field=IntegerField(),
    )
    rows = Reminder.objects.filter(state=Reminder.State.SENT, sent_at__lte=upto)
    if after is not None:
        rows = rows.filter(sent_at__gt=after)
    per_bucket = (
        rows.annotate(lateness=SecondsBetween(F("sent_at"), F("next_attempt_at")))
        .annotate(bucket=first_bucket)
        .order_by()
        .values("bucket")
        .annotate(n=Count("pk"), total=Sum("lateness"))
    )
    counts = [0] * (len(LATENESS_BUCKETS) + 1)
    total = 0.0
    for row in per_bucket:
        counts[row["bucket"]] = row["n"]
        total += row["total"] or 0.0
    return counts, total


def lateness_histogram(now: datetime) -> Metric:
    """Seconds from a reminder's last due time to its sending, over every sent row.

    The due time is ``next_attempt_at``: the planned time, the end of quiet
    hours, or the retry after a failure. So the figure measures dispatch (beat,
    broker, workers), not the reminder's own waiting.

    1. The tally (rows per bucket and the sum, of the rows sent up to a moment
       ``upto``) is kept in the cache, so a scrape reads only the rows sent
       since the last one, not the whole history.
    2. Each scrape adds the rows sent after the cached ``upto`` and at least
       ``SETTLE`` ago (by then their outcome is committed), and moves ``upto``.
    3. With no tally (the first scrape, an emptied cache) every sent row is
       counted once. Deleting old reminders never lowers a cached count.
    """
    upto = now - SETTLE
    try:
        cached = cache.get(TALLY_KEY)
    except Exception:  # noqa: BLE001 - without the cache, count from scratch
        logger.warning("metrics: cache unavailable, counting every sent reminder", exc_info=True)
        cached = None
    if cached is None or cached["upto"] > upto:
        counts, total = _tally(None, upto)
    else:
        more, extra = _tally(cached["upto"], upto)
        counts = [a + b for a, b in zip(cached["counts"], more, strict=True)]
        total = cached["total"] + extra
    with contextlib.suppress(Exception):
        cache.set(TALLY_KEY, {"upto": upto, "counts": counts, "total": total}, timeout=None)
    cumulative, buckets = 0, []
    for seconds, count in zip(LATENESS_BUCKETS, counts, strict=False):
        cumulative += count
        buckets.append((str(float(seconds)), cumulative))
    buckets.append(("+Inf", sum(counts)))
    return HistogramMetricFamily(
        "oncall_reminders_dispatch_lateness_seconds",
        "Time from a reminder falling due for sending to its being sent.",
        buckets=buckets,
        sum_value=max(total, 0.0),
    )


def _bad_files(run: SyncRun) -> int:
    """Files a finished run could not import: its summary says "failed N"."""
    match = _FAILED_FILES.search(run.summary or "")
    if match:
        return int(match.group(1))
    lines = [line for line in (run.log or "").splitlines() if line.strip()]
    return sum(1 for line in lines if not line.startswith("warning:"))


def sync_metrics(now: datetime) -> list[Metric]:
    """Per runbook folder: the last finished sync, the last clean one, its bad files."""
    finished = GaugeMetricFamily(
        "oncall_runbook_sync_last_finished_timestamp_seconds",
        "When the last sync of a runbook folder finished (Unix time).",
        labels=["folder"],
    )
    success = GaugeMetricFamily(
        "oncall_runbook_sync_last_success_timestamp_seconds",
        "When the last sync of a folder that imported every file finished (Unix time).",
        labels=["folder"],
    )
    bad = GaugeMetricFamily(
        "oncall_runbook_sync_bad_files",
        "Files the last finished sync of a folder could not import.",
        labels=["folder"],
    )
    last_finished: dict[str, SyncRun] = {}
    last_success: dict[str, datetime] = {}
    runs = (
        SyncRun.objects.filter(
            state__in=[SyncRun.State.DONE, SyncRun.State.FAILED], finished_at__isnull=False
        )
        .order_by("-finished_at", "-pk")
        .only("folders", "state", "summary", "log", "finished_at")[:SYNC_RUNS_READ]
    )
    for run in runs:
        for folder in run.folders or [str(settings.RUNBOOKS_DIR)]:
            folder = str(folder)
            last_finished.setdefault(folder, run)
            if run.state == SyncRun.State.DONE:
                last_success.setdefault(folder, run.finished_at)
    for folder, run in sorted(last_finished.items()):
        finished.add_metric([folder], run.finished_at.timestamp())
        bad.add_metric([folder], _bad_files(run))
    for folder, at in sorted(last_success.items()):
        success.add_metric([folder], at.timestamp())

    unfinished = GaugeMetricFamily(
        "oncall_runbook_sync_oldest_unfinished_age_seconds",
        "How long the oldest requested sync has been waiting or running (0 when none).",
    )
    oldest = SyncRun.objects.filter(
        state__in=[SyncRun.State.PENDING, SyncRun.State.RUNNING]
    ).aggregate(at=Min("created_at"))["at"]
    unfinished.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
    return [finished, success, bad, unfinished]


def beat_metrics(now: datetime) -> list[Metric]:
    age = GaugeMetricFamily(
        "oncall_beat_heartbeat_age_seconds",
        "Seconds since celery beat's last heartbeat (+Inf when it never beat).",
    )
    beat = Heartbeat.objects.filter(name="beat").values_list("at", flat=True).first()
    age.add_metric([], (now - beat).total_seconds() if beat else math.inf)
    return [age]
