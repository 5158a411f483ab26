"""Live pages as practice: the trainee's response to a real page during a shift.

A page that fires on the team while a shadow or reverse-shadow shift is on
gets a response console for the shift's trainee, the same console as a
drill's (``running.record_*`` write both). It is practice only: nothing here
acknowledges or silences anything in Alertmanager or the team's pager.

- The **response** is written by the trainee while the shift is on; its row
  is made by the first action (a page that is only looked at stores nothing).
- The **review** is the shift's primary's own account of the page and their
  mark on the response (``handled_well`` / ``needs_work``), or a lead's; never
  the trainee's. A mark ``handled_well`` is what readiness counts.

Registered in ``DrillsConfig.ready()``: the comparison panel of the shift
page, and the runbook page's bar that records a runbook opened from a console
(``?drill=<id>``, ``?response=<id>``, or ``?shift=<id>&page=<occurrence id>``
before the response has a row).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from oncall.alerts.models import AlertOccurrence
from oncall.alerts.timeline import shift_occurrences
from oncall.drills import running
from oncall.drills.models import Drill, Response, ResponseEvent
from oncall.drills.running import ACCOUNT, MARK_NOTE, DrillError, clean_text
from oncall.drills.timeline import LiveCard, timeline
from oncall.runbooks import panels as runbook_panels
from oncall.runbooks.models import Runbook
from oncall.shifts import panels as shift_panels
from oncall.shifts.models import ShadowShift
from oncall.teams.access import is_lead, is_member


class ShiftOver(DrillError):
    """A response written after its shift ended."""


# -- who --


def may_review(user: AbstractBaseUser, shift: ShadowShift) -> bool:
    """The shift's primary (while a member of its team) or a lead of the team; never the trainee."""
    if not user.is_authenticated or user.pk == shift.trainee_id:
        return False
    if user.pk == shift.primary_id and is_member(user, shift.team):
        return True
    return is_lead(user, shift.team)


def in_shift(shift: ShadowShift, occurrence: AlertOccurrence) -> bool:
    """A page of the shift: the team's, and it began firing during the shift."""
    return (
        not shift.is_cancelled
        and occurrence.team_id == shift.team_id
        and shift.starts_at <= occurrence.starts_at < shift.ends_at
    )


def response_of(shift: ShadowShift, occurrence: AlertOccurrence) -> Response | None:
    """The trainee's response to the page, or None while they have done nothing."""
    return Response.objects.filter(
        shift=shift, occurrence=occurrence, responder_id=shift.trainee_id
    ).first()


# -- the trainee's actions --


def _open_response(
    shift: ShadowShift, occurrence: AlertOccurrence, by: AbstractBaseUser, now: datetime
) -> Response:
    """The trainee's response, made on their first action; refused after the shift."""
    if by.pk != shift.trainee_id:
        raise DrillError(_("Only the trainee of the shift responds to its pages."))
    if not in_shift(shift, occurrence):
        raise DrillError(_("This alert is not a page of this shift."))
    if now >= shift.ends_at:
        raise ShiftOver(
            _(
                "The shift is over: a response is written while the shift is on, "
                "so this one can no longer change."
            )
        )
    try:
        with transaction.atomic():
            response, _made = Response.objects.get_or_create(
                shift=shift, occurrence=occurrence, responder=by
            )
    except IntegrityError:  # two first actions at once: the other made it
        response = Response.objects.get(shift=shift, occurrence=occurrence, responder=by)
    return response


def _not_ended(response: Response) -> None:
    if response.ended_at is not None:
        raise DrillError(_("You have ended your response to this page."))


def acknowledge(
    *, shift: ShadowShift, occurrence: AlertOccurrence, by: AbstractBaseUser, now=None
) -> bool:
    """Acknowledge the page (practice: the real pager is not touched); False when done already."""
    now = now or timezone.now()
    response = _open_response(shift, occurrence, by, now)
    if response.acknowledged_at is not None:
        return False
    _not_ended(response)
    return running.record_acknowledged(response, by=by, now=now)


def add_note(
    *,
    shift: ShadowShift,
    occurrence: AlertOccurrence,
    by: AbstractBaseUser,
    text: str,
    hypothesis: bool = False,
) -> ResponseEvent:
    response = _open_response(shift, occurrence, by, timezone.now())
    _not_ended(response)
    return running.record_note(response, by=by, text=text, hypothesis=hypothesis)


def end(
    *,
    shift: ShadowShift,
    occurrence: AlertOccurrence,
    by: AbstractBaseUser,
    choice: str,
    text: str = "",
    now=None,
) -> bool:
    """The trainee's end: mitigated, or would escalate. False when it had ended (the first stands)."""
    now = now or timezone.now()
    response = _open_response(shift, occurrence, by, now)
    if response.ended_at is not None:
        return False
    text = running.check_end(choice, text)
    with transaction.atomic():
        return running.record_end(response, by=by, choice=choice, text=text, now=now)


# -- the primary's review --


def review(
    *,
    shift: ShadowShift,
    occurrence: AlertOccurrence,
    by: AbstractBaseUser,
    mark: str,
    account: str = "",
    note: str = "",
    now=None,
) -> Response:
    """The primary's account of the page and their mark on the trainee's response.

    A page the trainee never answered is marked too (not answering is also
    evidence), so the review makes the row when there is none. Marking again
    replaces the mark: the last word of the primary or a lead stands.
    """
    if not may_review(by, shift):
        raise DrillError(_("Only the shift's primary or a lead of the team marks a response."))
    if not in_shift(shift, occurrence):
        raise DrillError(_("This alert is not a page of this shift."))
    if mark not in Response.Mark.values:
        raise DrillError(_("Choose handled well or needs work."))
    account = clean_text(account, field=ACCOUNT, required=False)
    note = clean_text(note, field=MARK_NOTE, required=mark == Response.Mark.NEEDS_WORK)
    now = now or timezone.now()
    with transaction.atomic():
        response, _made = Response.objects.select_for_update().get_or_create(
            shift=shift, occurrence=occurrence, responder_id=shift.trainee_id
        )
        response.primary_account = account
        response.mark, response.mark_note = mark, note
        response.marked_by, response.marked_at = by, now
        response.save(
            update_fields=["primary_account", "mark", "mark_note", "marked_by", "marked_at"]
        )
        running.response_marked(response)
    return response


# -- the console's page --


@dataclass
class LivePage:
    """A page of a shift as its console shows it, to the trainee or a reviewer."""

    shift: ShadowShift
    occurrence: AlertOccurrence
    response: Response | None
    is_trainee: bool
    may_review: bool

    @property
    def is_open(self) -> bool:
        """The trainee may still write: the shift is on and they have not ended."""
        return (
            self.is_trainee
            and timezone.now() < self.shift.ends_at
            and (self.response is None or self.response.ended_at is None)
        )

    def url(self, name: str = "live_page") -> str:
        return reverse(f"drills:{name}", args=[self.shift.pk, self.occurrence.pk])

    def runbook_link(self, runbook: Runbook) -> str:
        """The runbook, opened from the console: the runbook page records the opening."""
        base = runbook.get_absolute_url()
        if not self.is_open:
            return base
        if self.response is not None:
            return f"{base}?response={self.response.pk}"
        return f"{base}?shift={self.shift.pk}&page={self.occurrence.pk}"

    def events(self) -> list[ResponseEvent]:
        if self.response is None:
            return []
        return list(self.response.events.select_related("runbook", "by"))

    def context(self, *, viewer_tz, error: str = "") -> dict:
        card = LiveCard.of(self.occurrence)
        if card.runbook is not None:
            card.link = self.runbook_link(card.runbook)
        events = self.events()
        return {
            "live": self,
            "shift": self.shift,
            "occurrence": self.occurrence,
            "card": card,
            "pages": [card],
            "response": self.response,
            "timeline": timeline(card.fired_at, [card], events),
            "is_trainee": self.is_trainee,
            "may_review": self.may_review,
            "is_open": self.is_open,
            "shift_over": timezone.now() >= self.shift.ends_at,
            "marks": Response.Mark.choices,
            "review_url": self.url("live_review"),
            "viewer_tz": viewer_tz,
            "error": error,
        }


# -- the shift page: each page of the shift, the trainee's response beside the primary's --

PAGES_SHOWN = 20  # as many as a shift sends live pages for (reminders/live.py)


def shift_panel(request: HttpRequest, shift: ShadowShift) -> str:
    """The debrief's comparison: for the trainee, the primary and leads; "" for others
    and before the shift starts."""
    user = request.user
    now = timezone.now()
    if shift.is_cancelled or shift.starts_at > now:
        return ""
    is_trainee = user.pk == shift.trainee_id
    reviewer = not is_trainee and may_review(user, shift)
    if not (is_trainee or reviewer):
        return ""
    occurrences = shift_occurrences(shift)[:PAGES_SHOWN]
    if not occurrences:
        return ""
    responses = {
        r.occurrence_id: r
        for r in Response.objects.filter(
            shift=shift, occurrence__in=occurrences, responder_id=shift.trainee_id
        )
        .select_related("marked_by")
        .prefetch_related(
            Prefetch("events", queryset=ResponseEvent.objects.select_related("runbook"))
        )
    }
    rows = []
    for occurrence in occurrences:
        page = LivePage(shift, occurrence, responses.get(occurrence.pk), is_trainee, reviewer)
        card = LiveCard.of(occurrence)
        events = list(page.response.events.all()) if page.response else []
        rows.append(
            {
                "page": page,
                "card": card,
                "response": page.response,
                "timeline": timeline(card.fired_at, [], events),
                "url": page.url(),
                "review_url": page.url("live_review"),
            }
        )
    context = {
        "shift": shift,
        "rows": rows,
        "is_trainee": is_trainee,
        "may_review": reviewer,
        "shift_on": now < shift.ends_at,
        "marks": Response.Mark.choices,
        "viewer_tz": user.profile.tz,
        "next": request.get_full_path(),
    }
    return render_to_string("drills/_shift_pages.html", context, request=request)


# -- the runbook page: a runbook opened from a console --


@dataclass
class Opened:
    """Where the reader came from: the console to go back to, and what it is called."""

    back_url: str
    title: str
    is_drill: bool


def _opened_from(request: HttpRequest, runbook: Runbook) -> Opened | None:
    """The reader's running drill or open live response named by the query, with the
    opening recorded; None when the query names nothing of theirs."""
    user = request.user
    query = request.GET
    now = timezone.now()
    if query.get("drill", "").isdigit():
        drill = (
            Drill.objects.select_related("scenario")
            .filter(pk=int(query["drill"]), trainee=user)
            .first()
        )
        if drill is None:
            return None
        running.open_runbook(drill=drill, by=user, runbook=runbook)
        return Opened(drill.get_absolute_url(), drill.scenario.title, True)
    response = None
    if query.get("response", "").isdigit():
        response = (
            Response.objects.select_related("shift", "occurrence")
            .filter(pk=int(query["response"]), responder=user, occurrence__isnull=False)
            .first()
        )
        if response is None:
            return None
        shift, occurrence = response.shift, response.occurrence
    elif query.get("shift", "").isdigit() and query.get("page", "").isdigit():
        shift = ShadowShift.objects.filter(pk=int(query["shift"]), trainee=user).first()
        occurrence = AlertOccurrence.objects.filter(pk=int(query["page"])).first()
        if shift is None or occurrence is None or not in_shift(shift, occurrence):
            return None
    else:
        return None
    page = LivePage(shift, occurrence, response, True, False)
    if now < shift.ends_at and (response is None or response.ended_at is None):
        if response is None:
            response = _open_response(shift, occurrence, user, now)
        running.record_runbook(response, by=user, runbook=runbook)
    return Opened(page.url(), occurrence.alertname, False)


def runbook_panel(request: HttpRequest, runbook: Runbook) -> str:
    """The bar "Opened from …, back to the console" (recording the opening), or ""."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not _names_a_console(request):
        return ""
    opened = _opened_from(request, runbook)
    if opened is None:
        return ""
    return render_to_string("drills/_opened_bar.html", {"opened": opened})


def _names_a_console(request: HttpRequest) -> bool:
    return any(name in request.GET for name in ("drill", "response", "shift"))


def _runbook_panel_state(request: HttpRequest, runbook: Runbook) -> str:
    # Each opening from a console is recorded, so such a visit is never
    # answered "Not Modified"; every other visit leaves the page's ETag alone.
    return uuid.uuid4().hex if _names_a_console(request) else ""


runbook_panel.state = _runbook_panel_state

shift_panels.register(shift_panel)
runbook_panels.register(runbook_panel)
