"""The card on a runbook's page: "Mark as read (revision N)" for a trainee who has it to read."""

import functools

from django.db import connection
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse

from oncall.readiness.models import ItemProgress, Kind, Onboarding
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


def reading_state_sql(request: HttpRequest) -> tuple[str, list] | None:
    """The same state as a subquery of the page's statement, read on every visit
    (the card itself is read only when the page is rendered): the revision
    read, 0 for an item not read yet, NULL for no item."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return _reading_state_sql(), [user.pk, Kind.READ_RUNBOOK.value]


@functools.cache
def _reading_state_sql() -> str:
    q = connection.ops.quote_name
    # Names from the models' metadata, quoted; values are parameters.
    return (
        f"(SELECT COALESCE(i.{q('revision_read_id')}, 0) FROM {q(ItemProgress._meta.db_table)} i"  # noqa: S608
        f" JOIN {q(Onboarding._meta.db_table)} o ON o.{q('id')} = i.{q('onboarding_id')}"
        f" WHERE o.{q('engineer_id')} = %s AND i.{q('kind')} = %s AND i.{q('runbook_id')} = r.{q('id')}"
        f" ORDER BY o.{q('started_at')} DESC LIMIT 1)"
    )


runbook_panel.state = reading_state
runbook_panel.state_sql = reading_state_sql


def _diff_url(runbook: Runbook, read_number: int, current: Revision) -> str:
    return (
        reverse("runbooks:diff", args=[runbook.slug]) + f"?from={read_number}&to={current.number}"
    )
