"""Drills in the calendar feeds: a scheduled drill is an event for its trainee and game master.

shifts writes the feeds and must not import drills, so this module registers
a provider with ``shifts.feeds`` when drills is loaded (``DrillsConfig.ready()``).

- The UID is the drill's id: a rescheduled drill is the same event, moved.
- A drill has no change counter of its own, so SEQUENCE is 0 while it stands
  and 1 once cancelled; a calendar app polling the feed replaces the event's
  times on its next read either way.
- A cancelled drill stays in the feed with STATUS:CANCELLED, as a cancelled
  shift does, so subscribed calendars remove it rather than keep a ghost.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from oncall.drills.models import Drill
from oncall.shifts import feeds
from oncall.shifts.ical import EventLines
from oncall.teams.names import printable
from oncall.teams.people import display_name

# A drill's event lasts from its start to its last step and a while after:
# the time the trainee and the game master should keep free.
AFTER_LAST_STEP = timedelta(minutes=15)
SHORTEST = timedelta(minutes=30)
MOST_DRILLS = 500


def drills_for_person(user):
    """The drills ``user`` is the trainee or the game master of, for their feed."""
    return (
        Drill.objects.filter(Q(trainee=user) | Q(game_master=user))
        .filter(scheduled_at__gte=timezone.now() - feeds.HISTORY)
        .select_related("scenario", "team", "trainee", "game_master")
        .annotate(last_offset=Max("scenario__steps__offset"))
        .order_by("scheduled_at", "pk")[:MOST_DRILLS]
    )


def event_for(drill: Drill) -> EventLines:
    """One VEVENT for a drill (``drill.last_offset``: its scenario's last step, in seconds)."""
    cancelled = drill.state == Drill.State.CANCELLED
    starts = drill.started_at or drill.scheduled_at
    planned = timedelta(seconds=drill.last_offset or 0) + AFTER_LAST_STEP
    ends = starts + max(SHORTEST, planned)
    if drill.ended_at and not cancelled and drill.ended_at > starts:
        ends = drill.ended_at
    url = f"{settings.SITE_URL}{reverse('drills:console', args=[drill.pk])}"
    stamp = drill.ended_at if cancelled and drill.ended_at else drill.created_at
    names = {
        "title": printable(drill.scenario.title),
        "trainee": printable(display_name(drill.trainee)),
        "game_master": printable(display_name(drill.game_master)),
    }
    event = EventLines()
    event.add("uid", f"drill-{drill.pk}@oncall")
    event.add("sequence", 1 if cancelled else 0)
    event.add("dtstamp", stamp)
    event.add("last-modified", stamp)
    event.add("created", drill.created_at)
    event.add("dtstart", starts)
    event.add("dtend", ends)
    event.add("summary", _("Drill: %(title)s (%(trainee)s, run by %(game_master)s)") % names)
    lines = [
        _("Team: %(team)s") % {"team": printable(drill.team.name)},
        _("Trainee: %(name)s") % {"name": names["trainee"]},
        _("Game master: %(name)s") % {"name": names["game_master"]},
        _("Drill console: %(url)s") % {"url": url},
    ]
    if cancelled:
        lines.insert(0, _("This drill was cancelled."))
    event.add("description", "\n".join(lines))
    event.add("url", url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def drill_events(user) -> list[EventLines]:
    return [event_for(drill) for drill in drills_for_person(user)]


feeds.add_events_provider(drill_events)
