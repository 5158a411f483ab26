"""iCalendar feeds: a person's shifts, or a team's, for calendar apps.

Calendar apps poll the feed and match events by UID; a higher SEQUENCE tells
them an event changed. A cancelled shift stays in the feed with
STATUS:CANCELLED so subscribed calendars remove it rather than keep a ghost.

A person's feed also carries what the apps above shifts add to it (a drill
for its trainee and its game master): each registers a provider with
``add_events_provider`` in its ``apps.ready()``, since shifts imports none of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, override
from django.utils.translation import gettext as _
from icalendar import Calendar

from oncall.shifts.calendar import display_name
from oncall.shifts.ical import EventLines
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Profile, Team
from oncall.teams.names import printable

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


FEED_FIELDS = (
    "pk",
    "uid",
    "kind",
    "state",
    "starts_at",
    "ends_at",
    "sequence",
    "created_at",
    "updated_at",
    "team__name",
    "trainee__first_name",
    "trainee__last_name",
    "trainee__username",
    "primary__first_name",
    "primary__last_name",
    "primary__username",
)


def _feed_rows(queryset: QuerySet) -> QuerySet:
    """Plain rows (named tuples): hashable, so a rendered event can be reused."""
    return (
        queryset.filter(ends_at__gte=timezone.now() - HISTORY)
        .order_by("starts_at", "pk")
        .values_list(*FEED_FIELDS, named=True)
    )


def shifts_for_person(user) -> QuerySet:
    return _feed_rows(ShadowShift.objects.visible_to(user).involving(user))


def shifts_for_team(team: Team) -> QuerySet:
    return _feed_rows(ShadowShift.objects.filter(team=team))


def _names(row) -> tuple[str, str]:
    """Trainee and primary as the feed writes them: control characters stripped.

    Names are refused with line breaks where they are typed; one stored before
    that (or written straight to the database) must not break the feed.
    """
    trainee = display_name(row.trainee__first_name, row.trainee__last_name, row.trainee__username)
    primary = display_name(row.primary__first_name, row.primary__last_name, row.primary__username)
    return printable(trainee), printable(primary)


def summary(row) -> str:
    trainee, primary = _names(row)
    names = {"trainee": trainee, "primary": primary}
    if row.kind == ShadowShift.Kind.REVERSE_SHADOW:
        return _("Reverse shadow: %(trainee)s on call, %(primary)s backing up") % names
    return _("Shadow shift: %(trainee)s shadows %(primary)s") % names


def event_for(row, *, url: str) -> EventLines:
    """One VEVENT for a feed row (see ``FEED_FIELDS``)."""
    cancelled = row.state == ShadowShift.State.CANCELLED
    event = EventLines()
    event.add("uid", f"shift-{row.uid}@oncall")
    event.add("sequence", row.sequence)
    event.add("dtstamp", row.updated_at)
    event.add("last-modified", row.updated_at)
    event.add("created", row.created_at)
    event.add("dtstart", row.starts_at)
    event.add("dtend", row.ends_at)
    event.add("summary", summary(row))
    trainee, primary = _names(row)
    lines = [
        _("Team: %(team)s") % {"team": printable(row.team__name)},
        _("Trainee: %(name)s") % {"name": trainee},
        _("Primary: %(name)s") % {"name": primary},
        _("Shift page and debrief: %(url)s") % {"url": url},
    ]
    if cancelled:
        lines.insert(0, _("This shift was cancelled."))
    event.add("description", "\n".join(lines))
    event.add("url", url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


@lru_cache(maxsize=20_000)
def _event_bytes(row, site_url: str, language: str) -> bytes:
    """A rendered VEVENT, remembered per process.

    Calendar apps poll the same feed again and again, and most shifts have not
    changed since the last poll. The row holds every value the event shows
    (times, state, sequence, names), so a changed shift is a new row and a new
    key; ``site_url`` and ``language`` complete the key. About 0.5 KiB each.
    """
    url = f"{site_url}{reverse('shifts:detail', args=[row.pk])}"
    return event_for(row, url=url).to_ical()


# Providers of a person's other events: ``provider(user)`` gives the events
# (``EventLines``) that user's feed shows besides their shifts.
EventsProvider = Callable[[object], Iterable[EventLines]]
_events_providers: list[EventsProvider] = []


def add_events_provider(provider: EventsProvider) -> None:
    """Show ``provider(user)``'s events in each person's feed (called from ``apps.ready()``)."""
    if provider not in _events_providers:
        _events_providers.append(provider)


def other_events(person) -> bytes:
    """The events the registered providers add to ``person``'s feed, written."""
    return b"".join(event.to_ical() for provider in _events_providers for event in provider(person))


def calendar_for(rows: Iterable, *, name: str, person=None) -> bytes:
    """The feed as bytes: CRLF line endings, lines folded at 75 octets (icalendar
    does both, for the calendar and for each event). With ``person``, the
    events other apps add to that person's feed follow the shifts."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", printable(name))
    # Ask clients to poll hourly: a moved shift should not wait a day to show.
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    # The events go where icalendar would put them: before the closing line.
    end = b"END:VCALENDAR\r\n"
    head = calendar.to_ical().removesuffix(end)
    site_url, language = settings.SITE_URL, get_language() or ""
    events = b"".join(_event_bytes(row, site_url, language) for row in rows)
    if person is not None:
        events += other_events(person)
    return head + events + end


def remember_events(*, languages: Iterable[str], limit: int = 5_000) -> int:
    """Render the events of current shifts before anyone polls; return how many.

    A restarted worker remembers no event, and calendar apps poll on their own
    clock, restart or not: the first poll of a feed of 500 shifts would render
    all 500 while the app waits. Called at worker start (oncall/wsgi.py), for
    the first ``limit`` shifts in feed order, in each of ``languages``.
    """
    rows = list(_feed_rows(ShadowShift.objects.all())[:limit])
    site_url = settings.SITE_URL
    rendered = 0
    for language in languages:
        with override(language):
            key = get_language() or ""
            for row in rows:
                _event_bytes(row, site_url, key)
                rendered += 1
    return rendered
