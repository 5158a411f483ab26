"""Practice messages: a drill's pages, a drill coming up, and a reverse-shadow page nobody took.

Like ``live.py``, each source here says which things want a message now and
what each says to whom (``plan.Wanted`` keyword arguments); ``plan.py`` turns
them into rows of the outbox, one source row at a time, and cancels pending
rows nobody wants any more. All three kinds are urgent: quiet hours do not
hold them back.

- **drill_page**: each page a running drill fires reaches its trainee as a
  live page would, on the same channels, marked as a drill. One row per drill
  page, recipient and channel; once the drill is over, a page still unsent is
  cancelled.
- **drill_upcoming**: before a scheduled drill its trainee and its game
  master hear of it, at their shift lead times. The key holds the drill's
  time, so a rescheduled drill wants new rows and the old ones are cancelled;
  so are those of a drill cancelled or started.
- **page_escalated** (reverse shadow): the trainee answers pages first; when
  they have not acknowledged a page within the team's ``escalation_delay``
  of its start, the shift's primary is told, at that moment.

Planning runs every minute and dispatch every 30 s, so a drill that ended or
a page acknowledged between the two would still go out. ``still_wanted`` is
asked by dispatch just before it sends one of these rows, and a row whose
reason has gone is cancelled there instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from oncall.alerts.timeline import duration_label
from oncall.drills.models import Drill, DrillPage, Response
from oncall.reminders import live
from oncall.reminders.models import Reminder
from oncall.reminders.moments import lead_label, local_label, round_minutes, upcoming_dues
from oncall.shifts.models import ShadowShift
from oncall.teams.language import speaking
from oncall.teams.people import display_name

Kind = Reminder.Kind

# A drill's storm fills its console, not the trainee's inbox: as for a shift.
PAGES_PER_DRILL = live.PAGES_PER_SHIFT
# The longest lead time a profile accepts is 14 days; look one day further.
DRILL_HORIZON = timedelta(days=15)
# The mark mail filters and chat rules match on, in every language: it is not
# translated, so "[DRILL]" always begins a drill page's subject.
DRILL_TAG = "[DRILL]"


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _console_url(drill: Drill) -> str:
    return _absolute(reverse("drills:console", args=[drill.pk]))


# --- drill pages -------------------------------------------------------------


def pages_of_running_drills(now: datetime) -> Iterator[DrillPage]:
    """The pages of running drills, first fired first, up to ``PAGES_PER_DRILL`` per drill."""
    pages = (
        DrillPage.objects.filter(drill__state=Drill.State.RUNNING)
        .select_related("drill__trainee__profile", "drill__scenario", "drill__team", "runbook")
        .order_by("drill_id", "fired_at", "pk")
    )
    counted: dict[int, int] = {}
    for page in pages:
        counted[page.drill_id] = counted.get(page.drill_id, 0) + 1
        if counted[page.drill_id] <= PAGES_PER_DRILL:
            yield page


def drill_page(page: DrillPage, now: datetime) -> Iterator[dict]:
    """The drill page to its trainee, in their language."""
    trainee = page.drill.trainee
    with speaking(trainee):
        fields = _drill_page(page, trainee, now)
    yield fields


def _drill_page(page: DrillPage, trainee, now: datetime) -> dict:
    drill = page.drill
    name = page.alertname
    if page.is_firing:
        state = _("%(alert)s is firing") % {"alert": name}
    else:
        state = _("%(alert)s fired and resolved after %(duration)s") % {
            "alert": name,
            "duration": duration_label(page.resolved_at - page.fired_at),
        }
    console_url = _console_url(drill)
    runbook_url = (
        _absolute(reverse("drills:open_runbook", args=[drill.pk, page.runbook.slug]))
        if page.runbook_id
        else ""
    )
    lines = [
        _(
            "This is a drill: nothing is broken. Answer it from the drill console as you "
            "would a real page."
        )
    ]
    if page.summary:
        lines.append(page.summary)
    if page.description:
        lines.append(page.description)
    if labels := page.shown_labels():
        lines.append(_("Labels: %(labels)s") % {"labels": ", ".join(f"{k}={v}" for k, v in labels)})
    fired = page.fired_at.astimezone(trainee.profile.tz)
    facts = [_("Started %(when)s") % {"when": f"{fired:%H:%M %Z}"}]
    if page.severity:
        facts.append(_("severity %(severity)s") % {"severity": page.severity})
    lines.append(", ".join(facts) + ".")
    if runbook_url:
        lines.append(
            _("Runbook: %(title)s — %(url)s") % {"title": page.runbook.title, "url": runbook_url}
        )
    else:
        lines.append(_("No runbook answers this alert yet: say so in the console."))
    lines.append(_("Drill console: %(url)s") % {"url": console_url})
    return {
        "recipient": trainee,
        "kind": Kind.DRILL_PAGE,
        "subject_key": f"drill-page:{page.pk}",
        "due_at": page.fired_at,
        "subject": f"{DRILL_TAG} {state} — "
        + _("drill “%(title)s”") % {"title": drill.scenario.title},
        "body": "\n".join(lines),
        "link": console_url,
        "payload": {
            "drill": True,
            "drill_id": drill.pk,
            "drill_page": page.pk,
            "scenario": drill.scenario.title,
            "alert": name,
            "labels": page.labels,
            "status": "firing" if page.is_firing else "resolved",
            "starts_at": page.fired_at.astimezone(UTC).isoformat(),
            "team": drill.team.slug,
            "role": "trainee",
            "runbook": runbook_url,
            "console": console_url,
        },
    }


# --- drills coming up --------------------------------------------------------


def coming_drills(now: datetime):
    """Scheduled drills within the longest lead time."""
    return Drill.objects.filter(
        state=Drill.State.SCHEDULED,
        scheduled_at__gt=now,
        scheduled_at__lte=now + DRILL_HORIZON,
    ).select_related("scenario", "team", "trainee__profile", "game_master__profile")


def drill_upcoming(drill: Drill, now: datetime) -> Iterator[dict]:
    """A reminder per lead time to the drill's trainee and its game master, at the moments
    a shift's would fall due (``moments.upcoming_dues``)."""
    for recipient, role in ((drill.trainee, "trainee"), (drill.game_master, "game_master")):
        leads = recipient.profile.reminder_lead_times()
        for lead, due in upcoming_dues(
            drill.scheduled_at, leads, drill.team.tz, set_at=drill.created_at, now=now
        ):
            with speaking(recipient):
                fields = _drill_upcoming(drill, recipient, role, lead, due, now)
            yield fields


def _drill_upcoming(drill: Drill, recipient, role: str, lead, due, now) -> dict:
    when = local_label(drill.scheduled_at, recipient.profile.tz)
    # A late reminder says how long is really left, not the lead it was meant for.
    left = lead if due > now else min(lead, round_minutes(drill.scheduled_at - now))
    names = {
        "title": drill.scenario.title,
        "lead": lead_label(left),
        "when": when,
        "trainee": display_name(drill.trainee),
        "game_master": display_name(drill.game_master),
    }
    if role == "trainee":
        subject = _("Drill “%(title)s” %(lead)s (%(when)s)") % names
        lines = [
            _(
                "A practice run: alerts from a past outage will page you as if they were real. "
                "Nothing will be broken. %(game_master)s runs it."
            )
            % names
        ]
    else:
        subject = _("You run the drill “%(title)s” for %(trainee)s %(lead)s (%(when)s)") % names
        lines = [_("You are the game master of %(trainee)s's drill.") % names]
    console_url = _console_url(drill)
    lines += [
        _("Starts: %(when)s") % {"when": when},
        _("Drill console: %(url)s") % {"url": console_url},
    ]
    minutes = int(lead.total_seconds() // 60)
    starts = drill.scheduled_at.astimezone(UTC).isoformat()
    return {
        "recipient": recipient,
        "kind": Kind.DRILL_UPCOMING,
        "subject_key": f"drill:{drill.pk}:{starts}:{minutes}",
        "due_at": due,
        "subject": subject,
        "body": "\n".join(lines),
        "link": console_url,
        "payload": {
            "drill": True,
            "drill_id": drill.pk,
            "scenario": drill.scenario.title,
            "team": drill.team.slug,
            "role": role,
            "trainee": drill.trainee.get_username(),
            "game_master": drill.game_master.get_username(),
            "starts_at": starts,
            "lead_minutes": minutes,
            "console": console_url,
        },
    }


# --- reverse shadow: a page the trainee has not acknowledged -----------------


def escalation_due(alert: live.AlertInShift) -> datetime:
    """When the primary is told: the page's start plus the team's escalation delay."""
    return alert.occurrence.starts_at + timedelta(minutes=alert.shift.team.escalation_delay)


def unacknowledged_pages(now: datetime) -> Iterator[live.AlertInShift]:
    """Live pages of reverse-shadow shifts on now that their trainee did not acknowledge
    within the team's delay (not yet, or too late)."""
    alerts = [
        alert
        for alert in live.alerts_in_shifts(now)
        if alert.shift.kind == ShadowShift.Kind.REVERSE_SHADOW
    ]
    if not alerts:
        return
    acknowledged = {
        (occurrence, responder): at
        for occurrence, responder, at in Response.objects.filter(
            occurrence_id__in={alert.occurrence.pk for alert in alerts},
            acknowledged_at__isnull=False,
        ).values_list("occurrence_id", "responder_id", "acknowledged_at")
    }
    for alert in alerts:
        at = acknowledged.get((alert.occurrence.pk, alert.shift.trainee_id))
        if at is None or at > escalation_due(alert):
            yield alert


def page_escalated(alert: live.AlertInShift, now: datetime) -> Iterator[dict]:
    """The escalation to the shift's primary, in their language."""
    primary = alert.shift.primary
    with speaking(primary):
        fields = _page_escalated(alert, primary)
    yield fields


def _page_escalated(alert: live.AlertInShift, primary) -> dict:
    shift, occurrence = alert.shift, alert.occurrence
    delay = timedelta(minutes=shift.team.escalation_delay)
    trainee = display_name(shift.trainee)
    subject = _("%(name)s has not acknowledged %(alert)s after %(delay)s") % {
        "name": trainee,
        "alert": occurrence.alertname,
        "delay": duration_label(delay),
    }
    shift_url = _absolute(shift.get_absolute_url())
    runbook_path = occurrence.runbook_path()
    runbook_url = _absolute(runbook_path) if runbook_path else ""
    started = occurrence.starts_at.astimezone(primary.profile.tz)
    lines = [
        _(
            "On this reverse-shadow shift %(name)s answers pages first, and has not "
            "acknowledged this one. Step in, or reach them."
        )
        % {"name": trainee}
    ]
    if occurrence.summary:
        lines.append(occurrence.summary)
    lines.append(_("Started %(when)s") % {"when": f"{started:%H:%M %Z}"} + ".")
    if runbook_url:
        lines.append(_("Runbook: %(url)s") % {"url": runbook_url})
    lines.append(_("The shift's alerts, live: %(url)s") % {"url": shift_url})
    response_url = live.response_page_url(shift, occurrence)
    lines.append(_("%(name)s's response: %(url)s") % {"name": trainee, "url": response_url})
    return {
        "recipient": primary,
        "kind": Kind.PAGE_ESCALATED,
        "subject_key": f"occurrence:{occurrence.pk}:shift:{shift.uid}",
        "due_at": escalation_due(alert),
        "subject": subject,
        "body": "\n".join(lines),
        "link": shift_url,
        "payload": {
            "alert": occurrence.alertname,
            "occurrence": occurrence.pk,
            "status": occurrence.status,
            "starts_at": occurrence.starts_at.astimezone(UTC).isoformat(),
            "team": shift.team.slug,
            "shift": str(shift.uid),
            "role": "primary",
            "trainee": shift.trainee.get_username(),
            "trainee_id": shift.trainee_id,
            "escalation_delay_minutes": shift.team.escalation_delay,
            "runbook": runbook_url,
            "response_url": response_url,
        },
    }


# --- asked by dispatch just before sending -----------------------------------


def still_wanted(reminder: Reminder) -> bool:
    """False when the reason for a practice message went away since it was planned:
    the drill is over (or moved), or the page was acknowledged in time.

    Other kinds, and rows that carry no such reason, are always still wanted.
    """
    fields = reminder.payload or {}
    if reminder.kind == Kind.PAGE_ESCALATED:
        if "occurrence" not in fields or "trainee_id" not in fields:
            return True
        return not Response.objects.filter(
            occurrence_id=fields["occurrence"],
            responder_id=fields["trainee_id"],
            acknowledged_at__lte=reminder.due_at,
        ).exists()
    if reminder.kind == Kind.DRILL_PAGE and "drill_id" in fields:
        return Drill.objects.filter(pk=fields["drill_id"], state=Drill.State.RUNNING).exists()
    if reminder.kind == Kind.DRILL_UPCOMING and "drill_id" in fields:
        return Drill.objects.filter(
            pk=fields["drill_id"],
            state=Drill.State.SCHEDULED,
            scheduled_at=datetime.fromisoformat(fields["starts_at"]),
        ).exists()
    return True
