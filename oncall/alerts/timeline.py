"""A shift's alerts: the panel on the shift page and the debrief's "pages seen"."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from oncall.alerts.models import AlertOccurrence
from oncall.shifts.models import ShadowShift
from oncall.teams.dates import format_date

MAX_ROWS = 200
REFRESH_SECONDS = 15


def shift_occurrences(shift: ShadowShift) -> list[AlertOccurrence]:
    """Alerts of the shift's team that began firing during the shift, in order."""
    return list(
        AlertOccurrence.objects.filter(
            team_id=shift.team_id, starts_at__gte=shift.starts_at, starts_at__lt=shift.ends_at
        )
        .select_related("runbook", "team")
        .order_by("starts_at", "id")[:MAX_ROWS]
    )


def duration_label(delta: timedelta) -> str:
    """ "2 h 05 min" / "2時間05分": short, for a list of alerts."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 1:
        return _("<1 min")
    if minutes < 60:
        return _("%(minutes)d min") % {"minutes": minutes}
    hours, minutes = divmod(minutes, 60)
    if minutes:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    return _("%(hours)d h") % {"hours": hours}


def timeline_context(shift: ShadowShift, *, tz: zoneinfo.ZoneInfo, now: datetime) -> dict:
    rows = []
    # Said in the viewer's zone; with the day when the shift spans days there.
    spans_days = shift.starts_at.astimezone(tz).date() != shift.ends_at.astimezone(tz).date()
    for occurrence in shift_occurrences(shift):
        at = occurrence.starts_at.astimezone(tz)
        rows.append(
            {
                "occurrence": occurrence,
                "at": f"{format_date(at, 'weekday')} {at:%H:%M}" if spans_days else f"{at:%H:%M}",
                "duration": duration_label(occurrence.duration(now)),
                "runbook_path": occurrence.runbook_path(),
            }
        )
    live = not shift.is_cancelled and shift.starts_at <= now < shift.ends_at
    return {
        "shift": shift,
        "rows": rows,
        "live": live,
        "truncated": len(rows) >= MAX_ROWS,
        "refresh_seconds": REFRESH_SECONDS,
        "timeline_url": reverse("alerts:shift_timeline", args=[shift.pk]),
        "with_runbook": sum(1 for r in rows if r["occurrence"].runbook_id),
    }


def shift_panel(request: HttpRequest, shift: ShadowShift) -> str:
    """The "Alerts during this shift" card ("" before the shift starts with nothing to show)."""
    now = timezone.now()
    if shift.starts_at > now:
        return ""
    context = timeline_context(shift, tz=request.user.profile.tz, now=now)
    return render_to_string("alerts/timeline.html", context, request=request)


def pages_seen(shift: ShadowShift) -> str:
    """The debrief's first draft of "pages seen", one line per alert."""
    tz = _zone(shift.time_zone)
    now = timezone.now()
    lines = []
    for occurrence in shift_occurrences(shift):
        at = occurrence.starts_at.astimezone(tz)
        if occurrence.is_firing:
            state = _("still firing")
        else:
            state = _("resolved after %(duration)s") % {
                "duration": duration_label(occurrence.duration(now))
            }
        if occurrence.runbook_id:
            runbook = _("runbook: %(title)s") % {"title": occurrence.runbook.title}
        elif occurrence.runbook_count > 1:
            runbook = _("several runbooks")
        else:
            runbook = _("no runbook")
        lines.append(
            _("%(time)s %(alert)s (%(state)s; %(runbook)s)")
            % {
                "time": f"{at:%H:%M}",
                "alert": occurrence.alertname,
                "state": state,
                "runbook": runbook,
            }
        )
    return "\n".join(lines)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
