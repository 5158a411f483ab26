"""Calendar grids and time formatting: pure functions over plain rows."""

from collections import namedtuple
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from oncall.shifts.calendar import (
    MONTH,
    ROW_FIELDS,
    WEEK,
    build_days,
    format_span,
    grid_range,
    step,
)

Row = namedtuple("Row", ROW_FIELDS)
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")


def row(pk, starts_at, ends_at, *, kind="shadow", state="scheduled", trainee="Taro"):
    return Row(pk, kind, state, starts_at, ends_at, 1, trainee, "", "t", 2, "Priya", "", "p")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_it_spans_whole_weeks_from_monday():
    assert grid_range(WEEK, date(2026, 12, 10)) == (date(2026, 12, 7), date(2026, 12, 14))
    first, end = grid_range(MONTH, date(2026, 2, 14))
    assert first == date(2026, 1, 26) and end == date(2026, 3, 2)
    assert (end - first).days % 7 == 0


def test_it_steps_by_weeks_and_months():
    assert step(WEEK, date(2026, 12, 10), -1) == date(2026, 12, 3)
    assert step(MONTH, date(2026, 1, 31), 1) == date(2026, 2, 1)
    assert step(MONTH, date(2026, 1, 15), -1) == date(2025, 12, 1)


def test_it_places_a_block_by_real_hours_on_a_dst_day():
    # 29 March 2026 in London has 23 hours; 09:00 local is 8 real hours in.
    shift = row(1, utc(2026, 3, 29, 8), utc(2026, 3, 29, 16))
    days, _first, _end = build_days(
        shifts=[shift], view=WEEK, anchor=date(2026, 3, 29), tz=LONDON, today=date(2026, 3, 1)
    )
    block = days[6].blocks[0]
    assert days[6].date == date(2026, 3, 29)
    assert block.top == pytest.approx(100 * 8 / 23, abs=0.001)
    assert block.height == pytest.approx(100 * 8 / 23, abs=0.001)
    assert block.card.span_text == "09:00\u201317:00 BST"
    assert block.card.title == "Shadow: Taro \u00b7 Priya, 09:00\u201317:00 BST"
    assert days[6].iso == "2026-03-29" and days[6].label == "Sunday 29 March"


def test_it_cuts_an_overnight_shift_at_local_midnight():
    shift = row(1, utc(2026, 12, 8, 13), utc(2026, 12, 8, 21))  # 22:00-06:00 Tokyo
    days, _first, _end = build_days(
        shifts=[shift], view=WEEK, anchor=date(2026, 12, 8), tz=TOKYO, today=date(2026, 12, 1)
    )
    tuesday, wednesday = days[1], days[2]
    assert [b.card.pk for b in tuesday.blocks] == [1]
    assert tuesday.blocks[0].continues_after and not tuesday.blocks[0].continues_before
    assert wednesday.blocks[0].continues_before
    assert wednesday.blocks[0].top == 0 and wednesday.blocks[0].height == pytest.approx(25)


def test_it_puts_overlapping_shifts_side_by_side():
    shifts = [
        row(1, utc(2026, 12, 8, 0), utc(2026, 12, 8, 8)),
        row(2, utc(2026, 12, 8, 4), utc(2026, 12, 8, 12)),
        row(3, utc(2026, 12, 8, 9), utc(2026, 12, 8, 10)),
        row(4, utc(2026, 12, 8, 13), utc(2026, 12, 8, 14)),
    ]
    days, _first, _end = build_days(
        shifts=shifts, view=WEEK, anchor=date(2026, 12, 8), tz=TOKYO, today=date(2026, 12, 8)
    )
    blocks = {b.card.pk: b for b in days[1].blocks}
    assert (blocks[1].lane, blocks[2].lane, blocks[3].lane) == (0, 1, 0)
    assert {blocks[n].lanes for n in (1, 2, 3)} == {2}
    assert (blocks[2].left, blocks[2].width) == (50.0, 50.0)
    assert (blocks[4].lane, blocks[4].lanes) == (0, 1)  # on its own later that day
    assert days[1].is_today and not days[0].is_today


def test_it_lists_a_few_shifts_per_month_cell_then_counts_the_rest():
    shifts = [row(n, utc(2026, 12, 8, n), utc(2026, 12, 8, n).replace(minute=30)) for n in range(7)]
    days, _first, _end = build_days(
        shifts=shifts, view=MONTH, anchor=date(2026, 12, 1), tz=UTC, today=date(2026, 12, 1)
    )
    cell = next(d for d in days if d.date == date(2026, 12, 8))
    assert [b.card.pk for b in cell.chips] == [0, 1, 2, 3]
    assert cell.more == 3
    assert not next(d for d in days if d.date == date(2026, 11, 30)).in_month


def test_it_names_the_zone_and_both_abbreviations_across_a_change():
    assert (
        format_span(utc(2026, 12, 7, 1), utc(2026, 12, 7, 9), TOKYO)
        == "Mon 7 Dec 2026, 10:00\u201318:00 JST"
    )
    assert (
        format_span(utc(2026, 10, 24, 21), utc(2026, 10, 25, 6), LONDON)
        == "Sat 24 Oct, 22:00 BST \u2013 Sun 25 Oct 2026, 06:00 GMT"
    )
    assert (
        format_span(utc(2026, 12, 7, 22), utc(2026, 12, 8, 6), LONDON)
        == "Mon 7 Dec, 22:00 \u2013 Tue 8 Dec 2026, 06:00 GMT"
    )


def test_it_marks_now_in_todays_column_only():
    days, _first, _end = build_days(
        shifts=[],
        view=WEEK,
        anchor=date(2026, 12, 8),
        tz=TOKYO,
        today=date(2026, 12, 8),
        now=utc(2026, 12, 8, 3),  # 12:00 in Tokyo
    )
    assert [d.now_top for d in days] == [None, 50.0, None, None, None, None, None]
