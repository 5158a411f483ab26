"""Live pages: an alert fires while a shadow shift is on, and the person shadowing hears of it.

``alerts_in_shifts(now)`` says which alerts want live pages and ``pages`` what
each says to whom; ``plan.py`` turns them into rows of the outbox like every
other kind, one alert at a time, so an alert whose text cannot be made into a
page fails alone. So the receiver never sends anything: it stores the
occurrence (and asks for a planning round at once), the plan upserts one row
per occurrence, recipient and channel, and dispatch sends it. Re-deliveries of the alert hit the same occurrence, hence
the same key, hence no second message.

A live page is urgent (quiet hours do not hold it back) and is wanted only
while its shift is on: once the shift ends, a page still unsent is cancelled.

On a shadow shift the primary takes the page and the trainee watches; on a
reverse shadow the trainee takes it, and the primary backing them hears of it
only when the trainee has not acknowledged it within the team's escalation
delay (``practice.py``, kind ``page_escalated``): paging both at once would
make the primary the first responder again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from oncall.alerts.models import AlertOccurrence
from oncall.alerts.timeline import duration_label
from oncall.reminders.models import Reminder
from oncall.shifts.models import ShadowShift
from oncall.teams.language import speaking
from oncall.teams.people import display_name

# At most this many pages per shift and person: an alert storm fills the
# shift's timeline, not the trainee's inbox.
PAGES_PER_SHIFT = 20


@dataclass(frozen=True)
class AlertInShift:
    """An alert that began during a shift: what one round plans live pages from."""

    shift: ShadowShift
    occurrence: AlertOccurrence

    @property
    def pk(self) -> str:
        """Named in the log when its pages cannot be planned."""
        return f"occurrence {self.occurrence.pk}, shift {self.shift.pk}"


def alerts_in_shifts(now: datetime) -> Iterator[AlertInShift]:
    """The alerts live pages are wanted for now.

    1. Shifts on now (not cancelled).
    2. Their teams' occurrences that began during the shift, first received
       first, up to ``PAGES_PER_SHIFT`` per shift.
    """
    shifts = list(
        ShadowShift.objects.exclude(state=ShadowShift.State.CANCELLED)
        .filter(starts_at__lte=now, ends_at__gt=now)
        .select_related("team", "trainee__profile", "primary__profile")
    )
    if not shifts:
        return
    occurrences = (
        AlertOccurrence.objects.filter(
            team_id__in={s.team_id for s in shifts},
            starts_at__gte=min(s.starts_at for s in shifts),
            starts_at__lt=max(s.ends_at for s in shifts),
        )
        .select_related("runbook", "team")
        .order_by("pk")
    )
    by_team: dict[int, list[AlertOccurrence]] = {}
    for occurrence in occurrences:
        by_team.setdefault(occurrence.team_id, []).append(occurrence)
    for shift in shifts:
        during = [
            o
            for o in by_team.get(shift.team_id, [])
            if shift.starts_at <= o.starts_at < shift.ends_at
        ][:PAGES_PER_SHIFT]
        for occurrence in during:
            yield AlertInShift(shift, occurrence)


def pages(alert: AlertInShift, now: datetime) -> Iterator[dict]:
    """The fields of each live page wanted for ``alert`` (``plan.Wanted`` keyword arguments):
    the trainee's, on either kind of shift (the primary of a reverse shadow is
    told only if the trainee does not acknowledge it: see practice.py)."""
    shift = alert.shift
    with speaking(shift.trainee):
        page = _page(shift, alert.occurrence, shift.trainee, now)
    yield page


def _page(shift: ShadowShift, occurrence: AlertOccurrence, recipient, now) -> dict:
    name = occurrence.alertname
    if occurrence.is_firing:
        state = _("%(alert)s is firing") % {"alert": name}
    else:
        state = _("%(alert)s fired and resolved after %(duration)s") % {
            "alert": name,
            "duration": duration_label(occurrence.duration(now)),
        }
    if shift.kind == ShadowShift.Kind.SHADOW:
        who = _("your primary is on it")
    else:
        who = _("you take this one; %(name)s backs you") % {"name": display_name(shift.primary)}
    runbook_path = occurrence.runbook_path()
    runbook_url = f"{settings.SITE_URL}{runbook_path}" if runbook_path else ""
    shift_url = f"{settings.SITE_URL}{shift.get_absolute_url()}"
    started = occurrence.starts_at.astimezone(recipient.profile.tz)
    lines = []
    if occurrence.summary:
        lines.append(occurrence.summary)
    if occurrence.description:
        lines.append(occurrence.description)
    facts = [_("Started %(when)s") % {"when": f"{started:%H:%M %Z}"}]
    if occurrence.severity:
        facts.append(_("severity %(severity)s") % {"severity": occurrence.severity})
    if occurrence.service:
        facts.append(_("service %(service)s") % {"service": occurrence.service})
    lines.append(", ".join(facts) + ".")
    if occurrence.runbook_id:
        lines.append(
            _("Runbook: %(title)s — %(url)s")
            % {"title": occurrence.runbook.title, "url": runbook_url}
        )
    elif runbook_url:
        lines.append(_("Several runbooks answer it; choose one: %(url)s") % {"url": runbook_url})
    else:
        lines.append(_("No runbook answers this alert yet: note it in your debrief."))
    lines.append(_("The shift's alerts, live: %(url)s") % {"url": shift_url})
    response_url = response_page_url(shift, occurrence)
    lines.append(_("Acknowledge it and note what you do: %(url)s") % {"url": response_url})
    return {
        "recipient": recipient,
        "kind": Reminder.Kind.LIVE_PAGE,
        "subject_key": f"occurrence:{occurrence.pk}:shift:{shift.uid}",
        "due_at": occurrence.received_at,
        "subject": f"{state} — {who}",
        "body": "\n".join(lines),
        "link": runbook_url or shift_url,
        "payload": {
            "alert": name,
            "status": occurrence.status,
            "starts_at": occurrence.starts_at.isoformat(),
            "team": occurrence.team.slug,
            "shift": str(shift.uid),
            "role": "trainee",
            "runbook": runbook_url,
            "response_url": response_url,
        },
    }


def response_page_url(shift: ShadowShift, occurrence: AlertOccurrence) -> str:
    """The trainee's response page for a live page, absolute."""
    path = reverse("drills:live_page", kwargs={"shift": shift.pk, "occurrence": occurrence.pk})
    return f"{settings.SITE_URL}{path}"
