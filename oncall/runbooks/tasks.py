import logging
import traceback
from datetime import datetime, timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oncall.runbooks.models import SYNC_STUCK_AFTER, SyncRun
from oncall.runbooks.sync import sync_folders

logger = logging.getLogger(__name__)

# Syncs one person may request from the admin per window. A sync re-reads every
# file of a folder, so this is work done on the server at a click.
SYNCS_PER_USER = 5
SYNC_WINDOW = timedelta(minutes=10)


@shared_task(max_retries=0)
def run_sync(sync_run_id: int) -> None:
    """Carry out a requested SyncRun; a redelivered or vanished one is skipped.

    However the sync ends, the run ends ``done`` or ``failed``: an error that
    escapes the sync is its summary, and an interruption (the worker shutting
    down) is recorded too. A run whose worker is killed outright is left to
    ``sweep_stuck_syncs``.
    """
    claimed = SyncRun.objects.filter(pk=sync_run_id, state=SyncRun.State.PENDING).update(
        state=SyncRun.State.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    run = SyncRun.objects.get(pk=sync_run_id)
    outcome: dict | None = None
    try:
        report = sync_folders(run.folders or None)
        outcome = {
            "state": SyncRun.State.DONE if report.ok else SyncRun.State.FAILED,
            "summary": report.summary(),
            "log": "\n".join(report.errors + [f"warning: {w}" for w in report.warnings]),
        }
    except Exception as e:  # noqa: BLE001 - recorded on the run for the admin to see
        logger.exception("runbook sync #%s stopped", sync_run_id)
        outcome = {
            "state": SyncRun.State.FAILED,
            "summary": _("stopped: %(error)s: %(detail)s")
            % {"error": type(e).__name__, "detail": e},
            "log": traceback.format_exc(),
        }
    finally:
        if outcome is None:  # a BaseException: the worker is going away
            outcome = {
                "state": SyncRun.State.FAILED,
                "summary": _("stopped: the worker was interrupted before the sync finished"),
                "log": "",
            }
        run.finish(**outcome)


@shared_task(max_retries=0)
def sweep_stuck_syncs() -> int:
    """Fail sync runs that lost their worker or their message (periodic)."""
    swept = SyncRun.sweep_stuck(now=timezone.now())
    if swept:
        logger.warning(
            "%d runbook sync(s) stuck for over %s marked failed", swept, SYNC_STUCK_AFTER
        )
    return swept


def sync_refusal(*, user, now: datetime) -> str | None:
    """Why a sync requested by this user now would not be started, or None.

    1. Another sync is queued or running (and not yet stuck): a second one
       would read the same files again, and the two would race on the same
       runbooks.
    2. The user requested SYNCS_PER_USER syncs within SYNC_WINDOW.
    """
    active = (
        SyncRun.objects.filter(
            state__in=[SyncRun.State.PENDING, SyncRun.State.RUNNING],
            created_at__gte=now - SYNC_STUCK_AFTER,
        )
        .order_by("created_at")
        .first()
    )
    if active is not None:
        return _(
            "Sync #%(id)d is already %(state)s; wait for it to finish (its page shows the result)."
        ) % {"id": active.pk, "state": active.get_state_display()}
    recent = SyncRun.objects.filter(requested_by=user, created_at__gte=now - SYNC_WINDOW).count()
    if recent >= SYNCS_PER_USER:
        return _(
            "You requested %(count)d syncs in the last %(minutes)d minutes, the most allowed. "
            "Try again in a few minutes, or run manage.py sync_runbooks on the server."
        ) % {"count": recent, "minutes": int(SYNC_WINDOW.total_seconds() // 60)}
    return None


def request_sync(*, folders: list[str] | None = None, user=None) -> SyncRun:
    """Record a sync request and start it once the request is committed."""
    run = SyncRun.objects.create(folders=folders or [], requested_by=user)
    transaction.on_commit(lambda: run_sync.delay(run.pk))
    return run
