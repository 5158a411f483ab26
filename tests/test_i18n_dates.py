"""Dates, times, durations and numbers in the reader's language, from one set of filters."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from oncall.teams import dates

TOKYO = ZoneInfo("Asia/Tokyo")
LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo, a Thursday


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Thu 3 Dec 2026, 10:00–18:00 JST"),
        ("ja", "2026年12月3日(木) 10:00–18:00 JST"),
    ],
)
def test_a_span_within_a_day(language, expected):
    with translation.override(language):
        assert dates.format_span(START, START + timedelta(hours=8), TOKYO) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Thu 3 Dec, 22:00 – Fri 4 Dec 2026, 06:00 JST"),
        ("ja", "2026年12月3日(木) 22:00 – 12月4日(金) 06:00 JST"),
    ],
)
def test_a_span_over_midnight(language, expected):
    starts = START + timedelta(hours=12)
    with translation.override(language):
        assert dates.format_span(starts, starts + timedelta(hours=8), TOKYO) == expected


def test_a_span_over_a_dst_change_names_both_zones():
    starts = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 01:00 BST, the night clocks go back
    with translation.override("ja"):
        text = dates.format_span(starts, starts + timedelta(hours=9), LONDON)
    assert text == "2026年10月25日(日) 01:00 BST – 09:00 GMT"


@pytest.mark.parametrize(
    ("language", "month", "weekdays"),
    [
        ("en", "December 2026", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
        ("ja", "2026年12月", list("月火水木金土日")),
    ],
)
def test_month_titles_and_weekday_names(language, month, weekdays):
    with translation.override(language):
        assert dates.format_date(date(2026, 12, 3), "month") == month
        monday = date(2026, 11, 30)
        names = [dates.format_date(monday + timedelta(days=n), "weekday") for n in range(7)]
    assert names == weekdays


@pytest.mark.parametrize(
    ("language", "ahead", "behind"),
    [
        ("en", "in 12 hours, 45 minutes", "3 days ago"),
        ("ja", "あと12時間45分", "3日前"),
    ],
)
def test_relative_times(language, ahead, behind):
    now = START
    with translation.override(language):
        assert (
            dates.format_relative(now + timedelta(hours=12, minutes=45, seconds=20), now) == ahead
        )
        assert dates.format_relative(now - timedelta(days=3, minutes=5), now) == behind


def test_a_duration_keeps_two_neighbouring_units_and_says_one_for_one():
    with translation.override("en"):
        assert dates.format_duration(timedelta(days=1, minutes=5)) == "1 day"
        assert dates.format_duration(timedelta(hours=1, minutes=1)) == "1 hour, 1 minute"
        assert dates.format_duration(timedelta(seconds=20)) == "0 minutes"
    with translation.override("ja"):
        assert dates.format_duration(timedelta(days=2, hours=3)) == "2日3時間"


def test_numbers_and_percentages():
    for language in ("en", "ja"):
        with translation.override(language):
            assert dates.format_number(12345) == "12,345"
            assert dates.format_percent(0.666) == "67%"
            assert dates.format_percent(None) == "—"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Thu 3 Dec 2026, 10:00 JST|3 Dec|5 hours"),
        ("ja", "2026年12月3日(木) 10:00 JST|12月3日|5時間"),
    ],
)
def test_the_template_filters_follow_the_active_language(language, expected):
    template = Template(
        '{% load dates tz %}{% timezone tz %}{{ at|when:"datetime" }}|{{ at|when:"short_date" }}'
        "|{{ later|duration_until:at }}{% endtimezone %}"
    )
    context = Context({"at": START, "later": START + timedelta(hours=5), "tz": TOKYO})
    with translation.override(language):
        assert template.render(context) == expected
