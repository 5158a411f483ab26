"""iCalendar feeds: a person's shifts, or a team's, for calendar apps.

Calendar apps poll the feed and match events by UID; a higher SEQUENCE tells
them an event changed. A cancelled shift stays in the feed with
STATUS:CANCELLED so subscribed calendars remove it rather than keep a ghost.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from oncall.shifts.models import ShadowShift, person_name
from oncall.teams.models import Profile, Team

# Old shifts drop out of the feed after this long; calendars keep what they had.
HISTORY = timedelta(days=180)
PRODID = "-//oncall//shadow shifts//EN"


def profile_for_token(token: str) -> Profile | None:
    """The profile whose calendar token is ``token``, compared in constant time.

    The database narrows the search by a short prefix only; the whole token is
    then checked with ``secrets.compare_digest``, so response timing says
    nothing about how much of a guessed token was right beyond that prefix.
    """
    if len(token) < 16:
        return None
    candidates = Profile.objects.filter(calendar_token__startswith=token[:8]).select_related("user")
    for profile in candidates:
        if secrets.compare_digest(profile.calendar_token.encode(), token.encode()):
            return profile if profile.user.is_active else None
    return None


def _feed_shifts(queryset: QuerySet) -> QuerySet:
    return (
        queryset.filter(ends_at__gte=timezone.now() - HISTORY)
        .select_related("trainee", "primary", "team")
        .only(
            "pk",
            "uid",
            "kind",
            "state",
            "starts_at",
            "ends_at",
            "sequence",
            "updated_at",
            "created_at",
            "team__name",
            "trainee__username",
            "trainee__first_name",
            "trainee__last_name",
            "primary__username",
            "primary__first_name",
            "primary__last_name",
        )
        .order_by("starts_at", "pk")
    )


def shifts_for_person(user) -> QuerySet:
    return _feed_shifts(ShadowShift.objects.filter(Q(trainee=user) | Q(primary=user)))


def shifts_for_team(team: Team) -> QuerySet:
    return _feed_shifts(ShadowShift.objects.filter(team=team))


def summary(shift: ShadowShift) -> str:
    names = {"trainee": person_name(shift.trainee), "primary": person_name(shift.primary)}
    if shift.kind == ShadowShift.Kind.REVERSE_SHADOW:
        return _("Reverse shadow: %(trainee)s on call, %(primary)s backing up") % names
    return _("Shadow shift: %(trainee)s shadows %(primary)s") % names


def event_for(shift: ShadowShift) -> Event:
    url = f"{settings.SITE_URL}{shift.get_absolute_url()}"
    event = Event()
    event.add("uid", f"shift-{shift.uid}@oncall")
    event.add("sequence", shift.sequence)
    event.add("dtstamp", shift.updated_at)
    event.add("last-modified", shift.updated_at)
    event.add("created", shift.created_at)
    event.add("dtstart", shift.starts_at)
    event.add("dtend", shift.ends_at)
    event.add("summary", summary(shift))
    lines = [
        _("Team: %(team)s") % {"team": shift.team.name},
        _("Trainee: %(name)s") % {"name": person_name(shift.trainee)},
        _("Primary: %(name)s") % {"name": person_name(shift.primary)},
    ]
    if shift.state == ShadowShift.State.CANCELLED:
        lines.insert(0, _("This shift was cancelled."))
    lines.append(_("Shift page and debrief: %(url)s") % {"url": url})
    event.add("description", "\n".join(lines))
    event.add("url", url)
    event.add("status", "CANCELLED" if shift.state == ShadowShift.State.CANCELLED else "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def calendar_for(shifts: Iterable[ShadowShift], *, name: str) -> bytes:
    """The feed as bytes: CRLF line endings, lines folded at 75 octets (icalendar does both)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    # Ask clients to poll hourly: a moved shift should not wait a day to show.
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    for shift in shifts:
        calendar.add_component(event_for(shift))
    return calendar.to_ical()
