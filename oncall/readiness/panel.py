"""The card on a runbook's page: "Mark as read (revision N)" for a trainee who has it to read."""

from django.http import HttpRequest
from django.template.loader import render_to_string

from oncall.readiness.models import ItemProgress, Kind
from oncall.readiness.progress import reading_proof
from oncall.runbooks.models import Runbook


def runbook_panel(request: HttpRequest, runbook: Runbook) -> str:
    """Render the reading state of this runbook for the signed-in engineer ("" if not theirs).

    Shown only to someone whose onboarding has an item to read this runbook:
    not read yet, read at an older revision (with a link to the diff), or read
    at the current one.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    item = (
        ItemProgress.objects.filter(
            onboarding__engineer=user, kind=Kind.READ_RUNBOOK, runbook=runbook
        )
        .select_related("revision_read", "runbook__current_revision")
        .order_by("-onboarding__started_at")
        .first()
    )
    if item is None:
        return ""
    current = item.runbook.current_revision
    if item.revision_read_id is None:
        status = "unread"
    elif current is None or item.revision_read_id == current.pk:
        status = "read"
    else:
        status = "changed"
    # Opening this page is what lets its reader mark it read: the form carries
    # a signed proof of which revision they opened, and nothing is written now.
    proof = reading_proof(user=user, revision=current) if current is not None else ""
    return render_to_string(
        "readiness/panel.html",
        {"item": item, "runbook": runbook, "current": current, "status": status, "proof": proof},
        request=request,
    )
