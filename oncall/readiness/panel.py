"""The card on a runbook's page: "Mark as read (revision N)" for a trainee who has it to read."""

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse

from oncall.readiness.models import ItemProgress, Kind
from oncall.readiness.progress import reading_proof
from oncall.runbooks.models import Revision, Runbook


def runbook_panel(request: HttpRequest, runbook: Runbook) -> str:
    """Render the reading state of this runbook for the signed-in engineer ("" if not theirs).

    Shown only to someone whose onboarding has an item to read this runbook:
    not read yet, read at an older revision (with a link to the diff), or read
    at the current one. The card costs one small query: it reads the two
    values it shows, and renders without the context processors (the page
    around it has run them already).
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    item = _reading(request, runbook)
    if item is None:
        return ""
    read_id, read_number = item
    current = runbook.current_revision if runbook.current_revision_id else None
    if read_id is None:
        status = "unread"
    elif current is None or read_id == current.pk:
        status = "read"
    else:
        status = "changed"
    context = {
        "runbook": runbook,
        "current": current,
        "status": status,
        "read_number": read_number,
        "diff_url": _diff_url(runbook, read_number, current) if status == "changed" else "",
        "csrf_token": get_token(request),
        "next": request.get_full_path(),
    }
    if current is not None:
        # Opening this page is what lets its reader mark it read: the form carries
        # a signed proof of which revision they opened, and nothing is written now.
        context["proof"] = reading_proof(user=user, revision=current)
    return render_to_string("readiness/panel.html", context)


def _reading(request: HttpRequest, runbook: Runbook) -> tuple[int | None, int | None] | None:
    """(revision read, its number) of the reader's item for this runbook, once per request."""
    memo = request.__dict__.setdefault("_reading_items", {})
    if runbook.pk not in memo:
        memo[runbook.pk] = (
            ItemProgress.objects.filter(
                onboarding__engineer=request.user, kind=Kind.READ_RUNBOOK, runbook=runbook
            )
            .order_by("-onboarding__started_at")
            .values_list("revision_read_id", "revision_read__number")
            .first()
        )
    return memo[runbook.pk]


def reading_state(request: HttpRequest, runbook: Runbook) -> str:
    """What the card shows, for the page's ETag (the current revision is in it already)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    return repr(_reading(request, runbook))


runbook_panel.state = reading_state


def _diff_url(runbook: Runbook, read_number: int, current: Revision) -> str:
    return (
        reverse("runbooks:diff", args=[runbook.slug]) + f"?from={read_number}&to={current.number}"
    )
