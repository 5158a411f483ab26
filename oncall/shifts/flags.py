"""Debrief gaps reach the runbook's owner.

A runbook ticked as missing or wrong in a debrief is *flagged*. Its page shows
the flags to its owner and the team's leads ("flagged in 2 debriefs: step 3
fails on staging"); reminders brings its review forward. Flags clear when a
new revision is synced after them, or when the owner dismisses them with a note.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max
from django.http import HttpRequest
from django.template.loader import render_to_string

from oncall.runbooks.models import Runbook
from oncall.shifts.models import FlagsDismissed, ShadowShift
from oncall.teams.access import lead_memberships


@dataclass
class Flags:
    runbook: Runbook
    since: datetime | None  # flags older than this are settled
    shifts: list[ShadowShift]

    @property
    def latest(self) -> datetime | None:
        return max((s.debriefed_at for s in self.shifts), default=None)


def settled_at(runbook: Runbook) -> datetime | None:
    """When the runbook's flags were last dealt with: a new revision, or a dismissal."""
    revised = runbook.current_revision.created_at if runbook.current_revision_id else None
    dismissed = FlagsDismissed.objects.filter(runbook=runbook).aggregate(at=Max("at"))["at"]
    moments = [m for m in (revised, dismissed) if m is not None]
    return max(moments) if moments else None


def open_flags(runbook: Runbook) -> Flags:
    since = settled_at(runbook)
    shifts = ShadowShift.objects.filter(debrief_runbooks=runbook, debriefed_at__isnull=False)
    if since is not None:
        shifts = shifts.filter(debriefed_at__gt=since)
    return Flags(
        runbook=runbook,
        since=since,
        shifts=list(shifts.select_related("trainee", "primary").order_by("-debriefed_at")),
    )


def may_handle(user, runbook: Runbook) -> bool:
    """The runbook's owner (by username), a lead of its team, or staff."""
    if not user.is_authenticated:
        return False
    if user.is_staff or (runbook.owner and runbook.owner == user.get_username()):
        return True
    return runbook.team_id is not None and any(
        team.id == runbook.team_id for team in lead_memberships(user)
    )


def _flags_for(request: HttpRequest, runbook: Runbook) -> Flags | None:
    """The open flags the reader may handle (None if they may not), once per request."""
    user = getattr(request, "user", None)
    if user is None or not may_handle(user, runbook):
        return None
    memo = request.__dict__.setdefault("_open_flags", {})
    if runbook.pk not in memo:
        memo[runbook.pk] = open_flags(runbook)
    return memo[runbook.pk]


def flags_state(request: HttpRequest, runbook: Runbook) -> str:
    """What the card shows, for the runbook page's ETag."""
    flags = _flags_for(request, runbook)
    if flags is None:
        return ""
    return repr(
        [
            (
                shift.pk,
                shift.debriefed_at,
                shift.debrief_runbook_gaps,
                shift.debrief_runbooks_to_fix,
                *(
                    (person.get_username(), person.get_full_name()) if person else None
                    for person in (shift.trainee, shift.primary)
                ),
            )
            for shift in flags.shifts
        ]
    )


def flags_panel(request: HttpRequest, runbook: Runbook) -> str:
    """The runbook page's card of open flags, for those who can act on them."""
    flags = _flags_for(request, runbook)
    if flags is None or not flags.shifts:
        return ""
    return render_to_string(
        "shifts/flags_panel.html", {"flags": flags, "runbook": runbook}, request=request
    )


flags_panel.state = flags_state
