"""The team's readiness over time, drawn on the server as an SVG bar chart."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from oncall.drills.timeline import clock
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
            "date": format_date(week.ends, "short_date"),
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
                    format_date(week.ends, "short_date"),
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


# -- a person's trend on the dashboard: one bar per week since their onboarding started --

TREND_BAR, TREND_GAP, TREND_HEIGHT = 6, 2, 22


def trend_svg(trend: list[tuple[date, timedelta | None, int]]) -> str:
    """A tiny bar chart of the median time to acknowledge per week (shorter is better).

    A week without a response is a dot on the base line; the label says the
    first and the latest week's medians in words, for a screen reader and as
    a tooltip. Built as a plain string: it runs once per dashboard row, and
    every value in it is a number or a translated sentence passed through
    ``escape``.
    """
    timed = [ack for _week, ack, _count in trend if ack is not None]
    if not timed:
        return '<span class="muted">—</span>'
    peak = max(t.total_seconds() for t in timed) or 1
    bars = []
    for i, (_week, ack, _count) in enumerate(trend):
        x = i * (TREND_BAR + TREND_GAP)
        if ack is None:
            bars.append(
                f'<rect class="trend__none" x="{x}" y="{TREND_HEIGHT - 2}"'
                f' width="{TREND_BAR}" height="2"/>'
            )
            continue
        h = max(2.0, (TREND_HEIGHT - 2) * ack.total_seconds() / peak)
        bars.append(
            f'<rect class="trend__bar" x="{x}" y="{_n(TREND_HEIGHT - h)}"'
            f' width="{TREND_BAR}" height="{_n(h)}" rx="1"/>'
        )
    first = next((w, a) for w, a, _count in trend if a is not None)
    last = next((w, a) for w, a, _count in reversed(trend) if a is not None)
    label = _(
        "Median time to acknowledge by week: %(first)s in the week of %(first_week)s,"
        " %(last)s in the week of %(last_week)s"
    ) % {
        "first": clock(first[1]),
        "first_week": format_date(first[0], "short_date"),
        "last": clock(last[1]),
        "last_week": format_date(last[0], "short_date"),
    }
    label = escape(label)
    width = len(trend) * (TREND_BAR + TREND_GAP) - TREND_GAP
    return (
        f'<svg class="trend" width="{width}" height="{TREND_HEIGHT}"'
        f' viewBox="0 0 {width} {TREND_HEIGHT}" role="img" aria-label="{label}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{label}</title>{"".join(bars)}</svg>'
    )
