from celery import shared_task
from django.db import transaction
from django.utils import timezone

from oncall.runbooks.models import SyncRun
from oncall.runbooks.sync import sync_folders


@shared_task(max_retries=0)
def run_sync(sync_run_id: int) -> None:
    """Carry out a requested SyncRun; a redelivered or vanished one is skipped."""
    claimed = SyncRun.objects.filter(pk=sync_run_id, state=SyncRun.State.PENDING).update(
        state=SyncRun.State.RUNNING
    )
    if not claimed:
        return
    run = SyncRun.objects.get(pk=sync_run_id)
    report = sync_folders(run.folders or None)
    run.state = SyncRun.State.DONE if report.ok else SyncRun.State.FAILED
    run.summary = report.summary()
    run.log = "\n".join(report.errors + [f"warning: {w}" for w in report.warnings])
    run.finished_at = timezone.now()
    run.save(update_fields=["state", "summary", "log", "finished_at"])


def request_sync(*, folders: list[str] | None = None, user=None) -> SyncRun:
    """Record a sync request and start it once the request is committed."""
    run = SyncRun.objects.create(folders=folders or [], requested_by=user)
    transaction.on_commit(lambda: run_sync.delay(run.pk))
    return run
