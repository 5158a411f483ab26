"""Recurrence expansion across DST: pure functions, no database."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from oncall.shifts.series import (
    AmbiguousLocalTime,
    NonexistentLocalTime,
    Repeat,
    expand,
    first_self_overlap,
    format_offset,
    local_dates,
    to_utc,
)

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily(tz, first, days, start=time(9), end=time(17), **kwargs):
    occurrences = expand(
        first=first,
        start_time=start,
        end_time=end,
        tz=tz,
        repeat=Repeat.DAILY,
        weeks=(days + 6) // 7,
        **kwargs,
    )
    return occurrences[:days]


def test_it_keeps_nine_local_across_spring_forward_in_new_york():
    occurrences = daily(NEW_YORK, date(2026, 3, 6), 5)
    assert [o.starts_at.astimezone(NEW_YORK).time() for o in occurrences] == [time(9)] * 5
    assert [o.ends_at.astimezone(NEW_YORK).time() for o in occurrences] == [time(17)] * 5
    # EST (UTC-5) before 8 March, EDT (UTC-4) from then on.
    assert occurrences[0].starts_at == utc(2026, 3, 6, 14)
    assert occurrences[1].starts_at == utc(2026, 3, 7, 14)
    assert occurrences[2].starts_at == utc(2026, 3, 8, 13)
    assert occurrences[3].starts_at == utc(2026, 3, 9, 13)


def test_it_keeps_nine_local_across_fall_back_in_new_york():
    occurrences = daily(NEW_YORK, date(2026, 10, 30), 4)
    assert [o.starts_at.astimezone(NEW_YORK).hour for o in occurrences] == [9, 9, 9, 9]
    assert occurrences[1].starts_at == utc(2026, 10, 31, 13)  # EDT
    assert occurrences[2].starts_at == utc(2026, 11, 1, 14)  # EST
    assert all(o.duration == timedelta(hours=8) for o in occurrences)


def test_it_keeps_nine_local_across_both_london_changes():
    spring = daily(LONDON, date(2026, 3, 28), 3)
    assert [o.starts_at for o in spring] == [
        utc(2026, 3, 28, 9),  # GMT
        utc(2026, 3, 29, 8),  # BST from 29 March
        utc(2026, 3, 30, 8),
    ]
    autumn = daily(LONDON, date(2026, 10, 24), 3)
    assert [o.starts_at for o in autumn] == [
        utc(2026, 10, 24, 8),  # BST
        utc(2026, 10, 25, 9),  # GMT from 25 October
        utc(2026, 10, 26, 9),
    ]
    assert {o.starts_at.astimezone(LONDON).hour for o in spring + autumn} == {9}


def test_it_leaves_tokyo_alone_all_year():
    occurrences = expand(
        first=date(2026, 1, 1),
        start_time=time(10),
        end_time=time(18),
        tz=TOKYO,
        repeat=Repeat.WEEKLY,
        weeks=52,
    )
    assert len(occurrences) == 52
    assert {o.starts_at.time() for o in occurrences} == {time(1)}
    assert {o.duration for o in occurrences} == {timedelta(hours=8)}


def test_it_makes_an_overnight_shift_end_the_next_morning():
    # Every Tuesday 22:00–06:00 for four weeks, across London's October change.
    occurrences = expand(
        first=date(2026, 10, 13),
        start_time=time(22),
        end_time=time(6),
        tz=LONDON,
        repeat=Repeat.WEEKLY,
        weeks=4,
    )
    assert [o.local_date.weekday() for o in occurrences] == [1, 1, 1, 1]
    assert [o.ends_at.astimezone(LONDON).time() for o in occurrences] == [time(6)] * 4
    assert occurrences[0].starts_at == utc(2026, 10, 13, 21)
    assert occurrences[0].ends_at == utc(2026, 10, 14, 5)
    assert occurrences[2].starts_at == utc(2026, 10, 27, 22)  # GMT now
    # The Saturday night of the change itself would be nine hours long.
    night = expand(first=date(2026, 10, 24), start_time=time(22), end_time=time(6), tz=LONDON)
    assert night[0].duration == timedelta(hours=9)


def test_it_lists_weekdays_for_two_weeks():
    days = local_dates(first=date(2026, 12, 2), repeat=Repeat.WEEKDAYS, weeks=2)  # a Wednesday
    assert len(days) == 10
    assert all(d.weekday() < 5 for d in days)
    assert days[0] == date(2026, 12, 2) and days[-1] == date(2026, 12, 15)


def test_it_lists_one_date_for_a_single_shift():
    assert local_dates(first=date(2026, 12, 2), repeat=Repeat.ONCE, weeks=5) == [date(2026, 12, 2)]


def test_it_refuses_a_time_in_the_spring_gap():
    with pytest.raises(NonexistentLocalTime) as caught:
        daily(NEW_YORK, date(2026, 3, 7), 3, start=time(2, 30), end=time(8))
    assert caught.value.which == "start"
    assert caught.value.local == datetime(2026, 3, 8, 2, 30)
    assert caught.value.zone == "America/New_York"
    with pytest.raises(NonexistentLocalTime):
        to_utc(datetime(2026, 3, 29, 1, 30), LONDON, which="end")


def test_it_refuses_a_gap_time_even_with_a_fold_choice():
    with pytest.raises(NonexistentLocalTime):
        to_utc(datetime(2026, 3, 8, 2, 0), NEW_YORK, which="start", fold=1)


def test_it_asks_which_of_two_when_a_time_repeats():
    with pytest.raises(AmbiguousLocalTime) as caught:
        to_utc(datetime(2026, 11, 1, 1, 30), NEW_YORK, which="end")
    first, second = caught.value.offsets
    assert (format_offset(first), format_offset(second)) == ("UTC\u221204:00", "UTC\u221205:00")
    assert to_utc(datetime(2026, 11, 1, 1, 30), NEW_YORK, which="end", fold=0) == utc(
        2026, 11, 1, 5, 30
    )
    assert to_utc(datetime(2026, 11, 1, 1, 30), NEW_YORK, which="end", fold=1) == utc(
        2026, 11, 1, 6, 30
    )


def test_it_applies_the_fold_choice_to_a_series():
    occurrences = daily(LONDON, date(2026, 10, 24), 3, start=time(1, 30), end=time(9), fold=1)
    assert occurrences[1].starts_at == utc(2026, 10, 25, 1, 30)  # the second 01:30, GMT
    assert occurrences[0].starts_at == utc(2026, 10, 24, 0, 30)  # ordinary days are unaffected


def test_it_finds_shifts_of_one_series_that_overlap():
    occurrences = expand(
        first=date(2026, 12, 1),
        start_time=time(9),
        end_time=time(12),
        end_days=1,
        tz=TOKYO,
        repeat=Repeat.DAILY,
        weeks=1,
    )
    pair = first_self_overlap(occurrences)
    assert pair is not None
    assert pair[0].local_date == date(2026, 12, 1)
    assert first_self_overlap(daily(TOKYO, date(2026, 12, 1), 7)) is None


def test_it_formats_offsets_with_a_real_minus_sign():
    assert format_offset(timedelta(hours=9)) == "UTC+09:00"
    assert format_offset(timedelta(hours=-3, minutes=-30)) == "UTC\u221203:30"
    assert format_offset(timedelta(hours=5, minutes=45)) == "UTC+05:45"
