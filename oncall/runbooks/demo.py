"""Demo data for runbooks: the sample runbooks in RUNBOOKS_DIR, imported."""

from django.conf import settings

from oncall.runbooks.sync import sync_folders


def seed(out) -> None:
    report = sync_folders([settings.RUNBOOKS_DIR])
    for error in report.errors:
        out(f"runbook not imported: {error}")
    if report.created or report.updated:
        out(f"runbooks from {settings.RUNBOOKS_DIR.name}/: {report.summary()}")
