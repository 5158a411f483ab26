"""Calendar grids: shifts laid out on days in the viewer's time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.urls import reverse

from oncall.shifts.models import ShadowShift
from oncall.teams.dates import format_date, format_span  # noqa: F401 - the calendar's span, re-exported

WEEK = "week"
MONTH = "month"
VIEWS = (WEEK, MONTH)
MONTH_CHIPS = 4  # shifts listed in a month cell before "+N more"


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local day begins, in UTC (zoneinfo resolves a midnight DST gap)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def parse_day(value: str | None, default: date | None) -> date | None:
    """A ``?date=`` value, or ``default`` when it is missing, malformed or so far
    away that a grid around it would run off the calendar (year 1 or 9999)."""
    try:
        day = date.fromisoformat(value) if value else default
    except ValueError:
        return default
    if day is not None and not 1900 <= day.year <= 2999:
        return default
    return day


def grid_range(view: str, anchor: date) -> tuple[date, date]:
    """First day shown and the day after the last, weeks starting on Monday."""
    if view == MONTH:
        first_of_month = anchor.replace(day=1)
        start = first_of_month - timedelta(days=first_of_month.weekday())
        next_month = (first_of_month + timedelta(days=32)).replace(day=1)
        last = next_month - timedelta(days=1)
        end = last + timedelta(days=7 - last.weekday())
        return start, end
    start = anchor - timedelta(days=anchor.weekday())
    return start, start + timedelta(days=7)


def step(view: str, anchor: date, direction: int) -> date:
    """The anchor date of the previous (-1) or next (+1) week or month."""
    if view == MONTH:
        first = anchor.replace(day=1)
        if direction < 0:
            return (first - timedelta(days=1)).replace(day=1)
        return (first + timedelta(days=32)).replace(day=1)
    return anchor + timedelta(days=7 * direction)


@dataclass(frozen=True)
class Card:
    """What the calendar prints about one shift, worked out once per shift."""

    pk: int
    url: str
    kind: str
    kind_label: str
    is_done: bool
    trainee: str
    primary: str
    starts: datetime  # local
    ends: datetime  # local

    @property
    def start_text(self) -> str:
        return f"{self.starts:%H:%M}"

    @property
    def end_text(self) -> str:
        return f"{self.ends:%H:%M}"

    @property
    def title(self) -> str:
        """The tooltip of a month chip: kind, pair and times."""
        kind = self.kind_label[:1].upper() + self.kind_label[1:]
        return f"{kind}: {self.trainee} \u00b7 {self.primary}, {self.span_text}"

    @property
    def span_text(self) -> str:
        """``09:00–17:00 JST`` (both abbreviations when a DST change falls inside)."""
        if self.starts.tzname() == self.ends.tzname():
            return f"{self.starts:%H:%M}\u2013{self.ends:%H:%M} {self.ends.tzname()}"
        return f"{self.starts:%H:%M} {self.starts.tzname()}\u2013{self.ends:%H:%M} {self.ends.tzname()}"


@dataclass
class Block:
    """The part of one shift that falls on one local day."""

    card: Card
    top: float  # percent of the day
    height: float
    continues_before: bool
    continues_after: bool
    lane: int = 0
    lanes: int = 1

    @property
    def left(self) -> float:
        return round(100 * self.lane / self.lanes, 2)

    @property
    def width(self) -> float:
        return round(100 / self.lanes, 2)


@dataclass
class Day:
    date: date
    is_today: bool
    in_month: bool
    blocks: list[Block] = field(default_factory=list)
    now_top: float | None = None  # where "now" falls in today's column, in percent

    # Worked out here rather than with template filters: a month grid has 42
    # days, and each filter call costs more than the Python it runs.
    @property
    def iso(self) -> str:
        return self.date.isoformat()

    @property
    def label(self) -> str:
        return format_date(self.date, "day_label")

    @property
    def chips(self) -> list[Block]:
        return self.blocks[:MONTH_CHIPS]

    @property
    def more(self) -> int:
        return max(0, len(self.blocks) - MONTH_CHIPS)


ROW_FIELDS = (
    "pk",
    "kind",
    "state",
    "starts_at",
    "ends_at",
    "trainee_id",
    "trainee__first_name",
    "trainee__last_name",
    "trainee__username",
    "primary_id",
    "primary__first_name",
    "primary__last_name",
    "primary__username",
)


def shifts_between(team_id: int, first: date, end: date, tz: ZoneInfo):
    """One query: the team's shifts (not cancelled) overlapping the shown days.

    Rows, not model instances: a month of a big team is hundreds of shifts,
    and the grid needs a dozen columns of each.
    """
    return (
        ShadowShift.objects.filter(
            team_id=team_id,
            starts_at__lt=local_midnight(end, tz),
            ends_at__gt=local_midnight(first, tz),
        )
        .exclude(state=ShadowShift.State.CANCELLED)
        .order_by("starts_at", "pk")
        .values_list(*ROW_FIELDS, named=True)
    )


def display_name(first_name: str, last_name: str, username: str) -> str:
    """``teams.people.display_name`` from columns: the full name, else the username."""
    return f"{first_name} {last_name}".strip() or username


def build_days(
    *, shifts, view: str, anchor: date, tz: ZoneInfo, today: date, now: datetime | None = None
) -> tuple[list[Day], date, date]:
    """Lay shifts out on the days of a week or month grid.

    1. The grid spans whole weeks (Monday first) around ``anchor``; each day's
       start and end instants are worked out once.
    2. Each shift is cut at local midnights into one block per day it touches;
       a block's top and height are fractions of that day's real length (23 or
       25 hours on a DST day), so positions stay true.
    3. Blocks that overlap on one day get side-by-side lanes.
    """
    first, end = grid_range(view, anchor)
    count = (end - first).days
    dates = [first + timedelta(days=n) for n in range(count)]
    midnights = [local_midnight(d, tz) for d in [*dates, end]]
    days = [
        Day(date=d, is_today=d == today, in_month=view != MONTH or d.month == anchor.month)
        for d in dates
    ]
    url_of = detail_url_maker()
    labels = {value: str(label) for value, label in ShadowShift.Kind.choices}
    for shift in shifts:
        card = Card(
            pk=shift.pk,
            url=url_of(shift.pk),
            kind=shift.kind,
            kind_label=labels.get(shift.kind, shift.kind),
            is_done=shift.state == ShadowShift.State.DONE,
            trainee=display_name(
                shift.trainee__first_name, shift.trainee__last_name, shift.trainee__username
            ),
            primary=display_name(
                shift.primary__first_name, shift.primary__last_name, shift.primary__username
            ),
            starts=shift.starts_at.astimezone(tz),
            ends=shift.ends_at.astimezone(tz),
        )
        index = max(0, (card.starts.date() - first).days)
        while index < count and midnights[index] < shift.ends_at:
            day_start, day_end = midnights[index], midnights[index + 1]
            piece_start, piece_end = max(shift.starts_at, day_start), min(shift.ends_at, day_end)
            if piece_start < piece_end:
                length = (day_end - day_start).total_seconds()
                days[index].blocks.append(
                    Block(
                        card=card,
                        top=round(100 * (piece_start - day_start).total_seconds() / length, 3),
                        height=round(100 * (piece_end - piece_start).total_seconds() / length, 3),
                        continues_before=shift.starts_at < day_start,
                        continues_after=shift.ends_at > day_end,
                    )
                )
            index += 1
    for index, day in enumerate(days):
        _assign_lanes(day.blocks)
        if now is not None and midnights[index] <= now < midnights[index + 1]:
            length = (midnights[index + 1] - midnights[index]).total_seconds()
            day.now_top = round(100 * (now - midnights[index]).total_seconds() / length, 3)
    return days, first, end


def detail_url_maker():
    """``pk -> /shifts/<pk>/`` with one ``reverse()`` for a whole grid (it costs
    tens of microseconds a call, and a month of a big team shows hundreds)."""
    sample = reverse("shifts:detail", args=[987654321])
    head, tail = sample.split("987654321")
    return lambda pk: f"{head}{pk}{tail}"


def _assign_lanes(blocks: list[Block]) -> None:
    """Greedy interval colouring; every block in a cluster of overlaps shares its lane count."""
    blocks.sort(key=lambda b: (b.top, -b.height))
    cluster: list[Block] = []
    lane_ends: list[float] = []
    cluster_end = -1.0
    for block in blocks:
        if block.top >= cluster_end and cluster:
            for member in cluster:
                member.lanes = len(lane_ends)
            cluster, lane_ends = [], []
        bottom = block.top + block.height
        for index, lane_end in enumerate(lane_ends):
            if lane_end <= block.top:
                block.lane = index
                lane_ends[index] = bottom
                break
        else:
            block.lane = len(lane_ends)
            lane_ends.append(bottom)
        cluster.append(block)
        cluster_end = max(cluster_end, bottom)
    for member in cluster:
        member.lanes = len(lane_ends)


def weeks_of(days: list[Day]) -> list[list[Day]]:
    return [days[i : i + 7] for i in range(0, len(days), 7)]
