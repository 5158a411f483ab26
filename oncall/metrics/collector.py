"""What the database knows about the app's health, read at each scrape.

Reminders, runbook syncs and beat's heartbeat are rows in the database, the
store of record, so they are read from there when Prometheus asks: the
figures are the same whichever web process answers, and nothing is lost when
a worker restarts. Each scrape runs a fixed number of queries (seven), none
of which grows with the number of folders.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from oncall.reminders.models import Reminder
from oncall.runbooks.models import SyncRun
from oncall.teams.models import Heartbeat

logger = logging.getLogger(__name__)

# Seconds between "due for sending" and "sent": dispatch runs every 30 s, so
# a healthy outbox sits in the first few buckets.
LATENESS_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)
FAILED_RECENTLY = timedelta(hours=1)
# Folders are few; the newest runs are enough to find each one's last sync.
SYNC_RUNS_READ = 200
_FAILED_FILES = re.compile(r"\bfailed (\d+)\b")


class AppCollector(Collector):
    """Reminders, runbook syncs and beat, as Prometheus metrics."""

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
            ]
        except Exception:  # noqa: BLE001 - a scrape reports the failure, it does not 500
            logger.exception("metrics: the database did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics


def reminder_metrics(now: datetime) -> list[Metric]:
    by_state = GaugeMetricFamily(
        "oncall_reminders", "Reminders in the outbox, by state and kind.", labels=["state", "kind"]
    )
    counts = {
        (row["state"], row["kind"]): row["n"]
        for row in Reminder.objects.order_by().values("state", "kind").annotate(n=Count("pk"))
    }
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
    failed_counts = dict(
        Reminder.objects.filter(state=Reminder.State.FAILED, updated_at__gte=now - FAILED_RECENTLY)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("pk"))
    )
    for kind in Reminder.Kind.values:
        failed.add_metric([kind], failed_counts.get(kind, 0))

    return [by_state, oldest, failed, lateness_histogram()]


def lateness_histogram() -> Metric:
    """Seconds from a reminder's last due time to its sending, over every sent row.

    The due time is ``next_attempt_at``: the planned time, the end of quiet
    hours, or the retry after a failure. So the figure measures dispatch (beat,
    broker, workers), not the reminder's own waiting. Sent rows are kept, so
    the counts only grow, as a Prometheus histogram's must.
    """
    lateness = ExpressionWrapper(F("sent_at") - F("next_attempt_at"), output_field=DurationField())
    buckets = {
        f"le_{seconds}": Count("pk", filter=Q(lateness__lte=timedelta(seconds=seconds)))
        for seconds in LATENESS_BUCKETS
    }
    row = (
        Reminder.objects.filter(state=Reminder.State.SENT, sent_at__isnull=False)
        .annotate(lateness=lateness)
        .aggregate(count=Count("pk"), total=Sum("lateness"), **buckets)
    )
    total = row["total"]
    if isinstance(total, timedelta):
        total_seconds = total.total_seconds()
    else:  # some backends hand back microseconds
        total_seconds = (total or 0) / 1_000_000
    histogram = HistogramMetricFamily(
        "oncall_reminders_dispatch_lateness_seconds",
        "Time from a reminder falling due for sending to its being sent.",
        buckets=[(str(float(s)), row[f"le_{s}"]) for s in LATENESS_BUCKETS]
        + [("+Inf", row["count"])],
        sum_value=max(total_seconds, 0.0),
    )
    return histogram


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
