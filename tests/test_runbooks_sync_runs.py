"""Sync runs always end, stuck ones are swept, admin syncs are rate-limited, and review
fields stored out of range from before the checks break nothing."""

import hashlib
import importlib
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from oncall.celery import app as celery_app
from oncall.reminders.plan import review_due
from oncall.runbooks.models import Revision, Runbook, SyncRun
from oncall.runbooks.sync import sync_folders
from oncall.runbooks.tasks import SYNCS_PER_USER, run_sync, sweep_stuck_syncs

migration = importlib.import_module(
    "oncall.runbooks.migrations.0004_review_ranges_and_sync_started"
)


def write(root: Path, relative: str, content: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


# -- a run always ends -------------------------------------------------------------------------


def test_a_sync_that_raises_ends_failed_with_the_reason(db):
    # A folder list an admin typed as numbers: the sync itself cannot start.
    run = SyncRun.objects.create(folders=[123])
    run_sync(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED
    assert run.summary.startswith("stopped: TypeError: ")
    assert "Traceback" in run.log
    assert run.started_at is not None and run.finished_at is not None


def test_a_sync_interrupted_by_the_worker_ends_failed(db, tmp_path, monkeypatch):
    write(tmp_path, "svc/a.md", "# A\n")
    run = SyncRun.objects.create(folders=[str(tmp_path)])

    def shutdown(*args, **kwargs):
        raise SystemExit("worker shutting down")  # what a warm shutdown raises in a task

    monkeypatch.setattr("oncall.runbooks.tasks.sync_folders", shutdown)
    with pytest.raises(SystemExit):
        run_sync(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED
    assert run.summary == "stopped: the worker was interrupted before the sync finished"


def test_a_run_with_a_hostile_file_ends_failed_naming_it(db, tmp_path):
    write(tmp_path, "svc/deep.md", "".join(" " * (4 * i) + "- x\n" for i in range(600)))
    write(tmp_path, "svc/good.md", "# Good\n")
    run = SyncRun.objects.create(folders=[str(tmp_path)])
    run_sync(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED
    assert run.summary == "created 1, updated 0, unchanged 0, archived 0, failed 1"
    assert "svc/deep.md: nesting deeper than 50 levels (599)" in run.log


def test_stuck_runs_are_swept_to_failed_with_the_reason(db):
    now = timezone.now()
    lost_worker = SyncRun.objects.create(
        state=SyncRun.State.RUNNING, started_at=now - timedelta(minutes=16)
    )
    busy = SyncRun.objects.create(
        state=SyncRun.State.RUNNING, started_at=now - timedelta(minutes=5)
    )
    lost_message = SyncRun.objects.create(created_at=now - timedelta(minutes=20))
    queued = SyncRun.objects.create(created_at=now - timedelta(minutes=1))
    assert sweep_stuck_syncs() == 2
    for run in (lost_worker, busy, lost_message, queued):
        run.refresh_from_db()
    assert lost_worker.state == SyncRun.State.FAILED
    assert lost_worker.summary == "stopped: no result 15 minutes after it started (worker lost)"
    assert lost_worker.finished_at is not None
    assert lost_message.state == SyncRun.State.FAILED
    assert lost_message.summary == "never started: no worker took it within 15 minutes"
    assert busy.state == SyncRun.State.RUNNING
    assert queued.state == SyncRun.State.PENDING


def test_the_sweep_runs_on_the_beat_schedule():
    entries = [entry["task"] for entry in celery_app.conf.beat_schedule.values()]
    assert "oncall.runbooks.tasks.sweep_stuck_syncs" in entries


def test_the_admin_shows_why_a_run_failed(db, client_for, staff):
    run = SyncRun.objects.create(
        state=SyncRun.State.FAILED,
        summary="stopped: no result 15 minutes after it started (worker lost)",
        log="svc/deep.md: nesting deeper than 50 levels (599)",
    )
    client = client_for(staff)
    listing = client.get(reverse("admin:runbooks_syncrun_changelist")).content.decode()
    assert "no result 15 minutes after it started" in listing
    page = client.get(reverse("admin:runbooks_syncrun_change", args=[run.pk])).content.decode()
    assert "nesting deeper than 50 levels (599)" in page


# -- rate limits on admin syncs ----------------------------------------------------------------


def test_the_admin_refuses_a_second_sync_while_one_is_queued(
    db, client_for, staff, tmp_path, django_capture_on_commit_callbacks
):
    client = client_for(staff)
    url = reverse("admin:runbooks_syncrun_add")
    with django_capture_on_commit_callbacks():
        assert client.post(url, {"folders": f'["{tmp_path}"]'}).status_code == 302
    first = SyncRun.objects.get()
    response = client.post(url, {"folders": f'["{tmp_path}"]'})
    assert response.status_code == 429
    assert (
        f"Sync #{first.pk} is already pending; wait for it to finish" in response.content.decode()
    )
    assert SyncRun.objects.count() == 1


def test_the_admin_limits_syncs_per_person(
    db, client_for, staff, tmp_path, django_capture_on_commit_callbacks
):
    now = timezone.now()
    for minutes in range(SYNCS_PER_USER):
        SyncRun.objects.create(
            requested_by=staff,
            state=SyncRun.State.DONE,
            created_at=now - timedelta(minutes=minutes),
        )
    client = client_for(staff)
    url = reverse("admin:runbooks_syncrun_add")
    response = client.post(url, {"folders": f'["{tmp_path}"]'})
    assert response.status_code == 429
    assert "You requested 5 syncs in the last 10 minutes, the most allowed." in (
        response.content.decode()
    )
    SyncRun.objects.filter(requested_by=staff).update(created_at=now - timedelta(minutes=11))
    with django_capture_on_commit_callbacks():
        assert client.post(url, {"folders": f'["{tmp_path}"]'}).status_code == 302


def test_the_admin_refuses_folders_that_are_not_paths(db, client_for, staff):
    response = client_for(staff).post(reverse("admin:runbooks_syncrun_add"), {"folders": "[123]"})
    assert response.status_code == 200
    assert "Enter a list of folder paths" in response.content.decode()
    assert not SyncRun.objects.exists()


# -- review fields stored before the checks ----------------------------------------------------


@pytest.mark.parametrize(
    ("review_every", "last_reviewed"),
    [(4_000_000, date(2026, 1, 1)), (90, date(9999, 12, 31)), (2_000_000_000, None)],
)
def test_a_runbook_page_survives_review_fields_out_of_range(
    db, client_for, trainee, review_every, last_reviewed
):
    runbook = Runbook.objects.create(
        slug="svc/old", title="Old", review_every=review_every, last_reviewed=last_reviewed
    )
    response = client_for(trainee).get(runbook.get_absolute_url())
    assert response.status_code == 200
    assert runbook.is_review_overdue() in (False, True)


def test_review_planning_survives_review_fields_out_of_range(db, lead):
    """Past the calendar's end is no review date: nothing to plan, and no error."""
    Runbook.objects.create(
        slug="svc/old", title="Old", owner=lead.username, review_every=4_000_000,
        last_reviewed=date(2026, 1, 1),
    )  # fmt: skip
    due = Runbook.objects.create(
        slug="svc/due", title="Due", owner=lead.username, review_every=30,
        last_reviewed=date(2026, 1, 1),
    )  # fmt: skip
    now = timezone.make_aware(datetime(2026, 6, 1, 12))
    wanted = list(review_due(now))
    assert [w.subject_key for w in wanted] == [f"runbook:{due.pk}:2026-01-31"]


def test_the_admin_refuses_review_fields_out_of_range(db, client_for, staff):
    runbook = Runbook.objects.create(slug="svc/x", title="X")
    response = client_for(staff).post(
        reverse("admin:runbooks_runbook_change", args=[runbook.pk]),
        {
            "title": "X",
            "alerts": "[]",
            "tags": "[]",
            "review_every": "4000000",
            "last_reviewed": "9999-12-31",
            "revisions-TOTAL_FORMS": "0",
            "revisions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ensure this value is less than or equal to 3650." in page
    assert "Enter a date between 2000-01-01 and 2999-12-31." in page


def test_the_migration_clamps_old_values_and_the_next_sync_names_the_file(db, tmp_path):
    text = "---\nreview_every: 4000000\nlast_reviewed: 9999-12-31\n---\n# Old\n\nKept.\n"
    write(tmp_path, "svc/old.md", text)
    runbook = Runbook.objects.create(
        slug="svc/old",
        title="Old",
        review_every=4_000_000,
        last_reviewed=date(9999, 12, 31),
        source_root=str(tmp_path.resolve()),
        source_path="svc/old.md",
    )
    revision = Revision.objects.create(
        runbook=runbook,
        number=1,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        markdown=text,
        html="<p>Kept.</p>",
    )
    Runbook.objects.filter(pk=runbook.pk).update(current_revision=revision)
    fine = Runbook.objects.create(slug="svc/fine", title="Fine", review_every=90)

    migration.clamp_review_fields(apps, None)

    runbook.refresh_from_db()
    assert (runbook.review_every, runbook.last_reviewed) == (3650, None)
    fine.refresh_from_db()
    assert fine.review_every == 90
    note = SyncRun.objects.get()
    assert note.summary == "review fields out of range repaired in 1 runbooks (migration)"
    assert "svc/old: review_every 4000000 -> 3650, last_reviewed 9999-12-31 -> cleared" in note.log

    report = sync_folders([tmp_path])
    assert report.errors == [
        f"{tmp_path.resolve()}/svc/old.md: review_every must be between 1 and 3650 days "
        "(not 4000000)"
    ]
    runbook.refresh_from_db()
    assert runbook.current_revision.html == "<p>Kept.</p>"
