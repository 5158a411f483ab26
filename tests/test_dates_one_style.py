"""One date style per language, through one helper (oncall.teams.dates).

English puts the day before the month everywhere ("Tue 8 Dec 2026", never
"Dec 8, 2026" or "Dec. 8, 2026, 3 a.m." beside it, nor ISO dates for a
person to read); Japanese writes year, month, day and says a shared year once.
"""

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation

from oncall.readiness.progress import tick_item
from oncall.teams import dates
from tests.html_elements import elements
from tests.test_readiness_support import item, make_template, start
from tests.test_shifts import make_shift

MOMENT = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# "Dec 8" or "Dec. 8," (a month, then its day); "8 Dec 03:00" is not one.
MONTH_FIRST = re.compile(rf"\b({MONTHS})[a-z]*\.? \d{{1,2}}\b(?!:)")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def visible_text(html: str) -> str:
    body = re.sub(r"(?is)<(script|style|template)\b.*?</\1>", " ", html)
    return " ".join(e.text for e in elements(body, "body"))


@pytest.mark.parametrize("style", sorted(dates.FORMATS["en"]))
def test_every_english_style_puts_the_day_before_the_month(style):
    with translation.override("en"):
        text = dates.format_date(MOMENT, style)
    assert not MONTH_FIRST.search(text), text
    assert not ISO_DATE.search(text), text
    assert "a.m." not in text and "p.m." not in text


@pytest.mark.parametrize("style", sorted(dates.FORMATS["ja"]))
def test_every_japanese_style_writes_year_month_day(style):
    with translation.override("ja"):
        text = dates.format_date(MOMENT, style)
    if "年" in text:
        assert text.index("年") < text.index("月"), text
    if "月" in text and "日" in text:
        assert text.index("月") < text.index("日"), text
    assert " に" not in text and not ISO_DATE.search(text)


def test_both_languages_know_the_same_styles():
    assert set(dates.FORMATS["en"]) == set(dates.FORMATS["ja"])


@pytest.mark.parametrize(
    ("language", "first", "last", "expected"),
    [
        ("en", date(2026, 12, 7), date(2026, 12, 13), "7–13 Dec 2026"),
        ("en", date(2026, 11, 30), date(2026, 12, 6), "30 Nov – 6 Dec 2026"),
        ("en", date(2026, 12, 28), date(2027, 1, 3), "28 Dec 2026 – 3 Jan 2027"),
        ("ja", date(2026, 12, 7), date(2026, 12, 13), "2026年12月7日～13日"),
        ("ja", date(2026, 11, 30), date(2026, 12, 6), "2026年11月30日～12月6日"),
        ("ja", date(2026, 12, 28), date(2027, 1, 3), "2026年12月28日～2027年1月3日"),
    ],
)
def test_a_week_range_says_its_year_once_where_the_language_puts_it(
    language, first, last, expected
):
    with translation.override(language):
        assert dates.format_date_range(first, last) == expected


def test_a_japanese_span_over_midnight_gives_the_year_on_the_first_date():
    starts = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # 22:00 in Tokyo
    with translation.override("ja"):
        text = dates.format_span(starts, starts + timedelta(hours=8), ZoneInfo("Asia/Tokyo"))
    assert text == "2026年12月3日(木) 22:00 – 12月4日(金) 06:00 JST"


def test_a_span_over_new_year_gives_both_years():
    starts = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    with translation.override("en"):
        text = dates.format_span(starts, starts + timedelta(hours=8), ZoneInfo("UTC"))
    assert text == "Thu 31 Dec 2026, 20:00 – Fri 1 Jan 2027, 04:00 UTC"


def test_the_checklist_and_shifts_pages_write_dates_one_way(
    client_for, team, trainee, primary, lead
):
    onboarding = start(trainee, team, make_template(team), lead)
    onboarding.target_date = timezone.localdate() + timedelta(days=20)
    onboarding.save(update_fields=["target_date"])
    tick_item(item=item(onboarding, "Laptop and VPN"), by=trainee)
    make_shift(team, trainee, primary, timezone.now() + timedelta(days=1))
    make_shift(team, trainee, primary, timezone.now() - timedelta(days=2))
    client = client_for(trainee)
    for path in ["/", "/shifts/", f"/shifts/?view=month&team={team.slug}"]:
        text = visible_text(client.get(path).content.decode())
        assert not MONTH_FIRST.search(text), (path, MONTH_FIRST.search(text).group(0))
        assert not ISO_DATE.search(text), (path, ISO_DATE.search(text).group(0))
        assert "a.m." not in text and "p.m." not in text, path


def test_the_week_heading_in_japanese_names_the_year_first(client_for, team, trainee):
    trainee.profile.language = "ja"
    trainee.profile.save(update_fields=["language"])
    page = client_for(trainee).get(f"/shifts/?team={team.slug}&view=week&date=2026-12-09")
    heading = elements(page.content.decode(), "h2", id="calendar-title")[0].text
    assert "2026年12月7日～13日" in heading
