"""The team's readiness over time, drawn on the server as an SVG bar chart."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from oncall.readiness.models import Onboarding
from oncall.teams.dates import format_date

WEEKS = 12
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 32, 8, 12, 28


@dataclass
class Week:
    ends: date
    in_progress: int
    ready: int
    cleared: int

    @property
    def total(self) -> int:
        return self.in_progress + self.ready + self.cleared


def weekly_states(onboardings: list[Onboarding], *, today: date, tz) -> list[Week]:
    """How many onboardings were in progress, ready and cleared at the end of each week.

    1. Take the end of each of the last ``WEEKS`` weeks (the last one is today).
    2. An onboarding counts from its start; as cleared from ``cleared_at``, as
       ready from ``ready_at`` (the gate's latest pass), else as in progress.
       A ready spell that ended before today is not kept, so past weeks show
       the states as the latest events left them.
    """
    weeks = []
    for back in range(WEEKS - 1, -1, -1):
        ends = today - timedelta(weeks=back)
        cutoff = datetime.combine(ends + timedelta(days=1), time.min, tzinfo=tz)
        week = Week(ends=ends, in_progress=0, ready=0, cleared=0)
        for o in onboardings:
            if o.started_at >= cutoff:
                continue
            if o.cleared_at is not None and o.cleared_at < cutoff:
                week.cleared += 1
            elif o.ready_at is not None and o.ready_at < cutoff:
                week.ready += 1
            else:
                week.in_progress += 1
        weeks.append(week)
    return weeks


def render_svg(weeks: list[Week]) -> SafeString:
    """Stacked bars, one per week: cleared at the bottom, then ready, then in progress."""
    peak = max((w.total for w in weeks), default=0) or 1
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / len(weeks)
    bar_w = slot * 0.64
    parts: list[SafeString] = []

    # Horizontal grid lines with counts.
    for tick in _ticks(peak):
        y = TOP + plot_h - plot_h * tick / peak
        parts.append(
            format_html(
                '<line class="chart__grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="chart__axis" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                _n(y),
                _n(y),
                LEFT - 6,
                _n(y + 4),
                tick,
            )
        )

    for i, week in enumerate(weeks):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = TOP + plot_h
        label = _("Week to %(date)s: %(p)d in progress, %(r)d ready, %(c)d cleared") % {
            "date": format_date(week.ends, "us_short_date"),
            "p": week.in_progress,
            "r": week.ready,
            "c": week.cleared,
        }
        segments = []
        for css, value in (
            ("chart__bar--cleared", week.cleared),
            ("chart__bar--ready", week.ready),
            ("chart__bar--progress", week.in_progress),
        ):
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            segments.append((css, _n(x), _n(y), _n(bar_w), _n(h)))
        parts.append(
            format_html(
                "<g><title>{}</title>{}</g>",
                label,
                format_html_join(
                    "",
                    '<rect class="chart__bar {}" x="{}" y="{}" width="{}" height="{}" rx="2"/>',
                    segments,
                ),
            )
        )
        if i % 2 == (len(weeks) - 1) % 2:  # label every other week, always the last
            parts.append(
                format_html(
                    '<text class="chart__axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                    _n(x + bar_w / 2),
                    HEIGHT - 8,
                    format_date(week.ends, "us_short_date"),
                )
            )

    last = weeks[-1]
    summary = _(
        "Team readiness over the last %(weeks)d weeks; now %(p)d in progress, %(r)d ready, %(c)d cleared."
    ) % {"weeks": len(weeks), "p": last.in_progress, "r": last.ready, "c": last.cleared}
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">{}</svg>',
        WIDTH,
        HEIGHT,
        summary,
        mark_safe("".join(parts)),  # noqa: S308 - every part built with format_html
    )


def _ticks(peak: int) -> list[int]:
    step = max(1, -(-peak // 4))
    return list(range(0, peak + 1, step))


def _n(value: float) -> str:
    return f"{value:.1f}"
