"""Rotations read from iCalendar feeds: the tools' shapes, recurrences, bad input, the fetch."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from oncall.rotations import fetch as feeds
from oncall.rotations.errors import FeedError
from oncall.rotations.models import Rotation, RotationShift
from oncall.rotations.parse import PersonRule, expand
from oncall.rotations.read import link_person, read_rotation
from tests.fixtures.rotations.server import FeedServer, fixture

NOW = datetime(2026, 12, 10, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


def read(name, how="attendee", pattern="", zone=TOKYO, now=NOW):
    return expand(fixture(name), rule=PersonRule(how, pattern), zone=zone, now=now)


def calendar(*events: str) -> bytes:
    body = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN", *events])
    return (body + "\r\nEND:VCALENDAR\r\n").encode()


def event(uid, start, end, who, extra=()) -> str:
    lines = ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTART:{start}"]
    if end:
        lines.append(f"DTEND:{end}")
    lines += [f"SUMMARY:On call {who}", f"ATTENDEE:mailto:{who}@example.com", *extra]
    return "\r\n".join([*lines, "END:VEVENT"])


# -- the tools' shapes --


def test_it_reads_pagerduty_with_folded_lines_and_bare_attendees():
    shifts = read("pagerduty.ics", "pagerduty")
    assert [s.email for s in shifts] == [
        "primary@example.com",
        "lead@example.com",
        "kenji@elsewhere.example",
    ]
    assert shifts[0].starts_at == datetime(2026, 12, 14, tzinfo=UTC)
    assert shifts[0].ends_at == datetime(2026, 12, 15, tzinfo=UTC)


def test_it_reads_pagerduty_names_from_the_folded_summary():
    shifts = read("pagerduty.ics", "pagerduty")
    assert shifts[2].name == "Kenji Watanabe"
    assert shifts[1].name == (
        "Lead Person With A Rather Long Name That The Export Folds Over Two Lines"
    )


def test_it_reads_goalert_personal_feeds_whose_events_name_nobody():
    shifts = read("goalert.ics", "goalert")
    assert [(s.name, s.email) for s in shifts] == [
        ("On-Call (GoAlert: Payments)", ""),
        ("On-Call Shift", ""),
    ]


def test_it_reads_goalert_full_schedules_by_the_name_before_on_call():
    shifts = read("goalert_full.ics", "goalert")
    assert [(s.name, s.email) for s in shifts] == [
        ("primary@example.com", "primary@example.com"),
        ("Hana Sato", ""),
    ]


def test_it_reads_grafana_oncall_usernames_by_regex():
    shifts = read("grafana_oncall.ics", "regex", r"^(?P<person>\S+)$")
    assert [s.name for s in shifts] == ["primary", "lead"]


def test_it_reads_opsgenie_attendees_with_a_common_name():
    [shift] = read("opsgenie.ics", "attendee")
    assert (shift.name, shift.email) == ("Primary Person", "primary@example.com")
    assert shift.starts_at.astimezone(TOKYO).hour == 9


# -- recurrences and zones --


def test_it_expands_a_weekly_tokyo_rotation_with_exdate_override_and_all_day():
    shifts = read("tokyo_weekly.ics")
    starts = [(s.starts_at.astimezone(TOKYO).strftime("%m-%d %H:%M"), s.email) for s in shifts]
    assert starts == [
        ("12-14 10:00", "primary@example.com"),
        ("12-21 10:00", "primary@example.com"),
        # 12-28 is an EXDATE
        ("12-31 00:00", "lead@example.com"),  # all day, two days, Tokyo midnight
        ("01-05 10:00", "lead@example.com"),  # the 01-04 occurrence, moved
        ("01-11 10:00", "primary@example.com"),
        ("01-18 10:00", "primary@example.com"),
        ("01-25 10:00", "primary@example.com"),
    ]
    all_day = shifts[2]
    assert all_day.ends_at - all_day.starts_at == timedelta(days=2)
    keys = [s.key for s in shifts]
    assert len(set(keys)) == len(keys)


def test_it_keeps_new_york_handovers_at_nine_across_the_dst_change():
    shifts = read("newyork_weekly.ics", zone=NEW_YORK, now=datetime(2027, 2, 1, tzinfo=UTC))
    local = [s.starts_at.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for s in shifts]
    assert local == ["03-01 09:00", "03-08 09:00", "03-15 09:00", "03-22 09:00"]
    assert [s.starts_at.hour for s in shifts] == [14, 14, 13, 13]  # UTC moves, the wall time not
    # The week that springs forward is an hour shorter in real time.
    assert shifts[1].ends_at - shifts[1].starts_at == timedelta(days=7, hours=-1)


def test_it_reads_floating_times_in_the_rotation_zone():
    body = calendar(event("f", "20261214T090000", "20261214T170000", "primary"))
    [shift] = expand(body, rule=PersonRule("attendee"), zone=TOKYO, now=NOW)
    assert shift.starts_at == datetime(2026, 12, 14, 0, tzinfo=UTC)


# -- bad input: each named --


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"<html>Sign in</html>", "not_ical", "not an iCalendar file"),
        (calendar(event("a", "20261214T090000Z", "", "primary")), "no_end", "has no end"),
        (
            calendar(event("a", "20261214T090000Z", "20261230T090000Z", "primary")),
            "too_long",
            "longer than 14 days",
        ),
        (
            calendar(
                *(
                    event(f"e{n}", "20261214T090000Z", "20261214T100000Z", "primary")
                    for n in range(10_000)
                )
            ),
            "too_many",
            "more than 5,000 events",
        ),
        (
            calendar(event("old", "20250101T090000Z", "20250102T090000Z", "primary")),
            "empty",
            "no event in the next 90 days",
        ),
        (
            calendar(event("a", "20261214T090000Z", "20261214T080000Z", "primary")),
            "ends_before_start",
            "ends before it starts",
        ),
        (
            calendar(
                event(
                    "m", "20261214T090000Z", "20261214T090100Z", "primary", ["RRULE:FREQ=MINUTELY"]
                )
            ),
            "too_many",
            "more than",
        ),
    ],
)
def test_it_names_each_bad_feed(body, code, words):
    with pytest.raises(FeedError) as caught:
        expand(body, rule=PersonRule("attendee"), zone=TOKYO, now=NOW)
    assert caught.value.code == code
    assert words in str(caught.value)


@pytest.fixture
def server():
    with FeedServer() as server:
        yield server


@pytest.fixture
def feed_rotation(team, settings, server):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    server.feeds["/payments.ics"] = fixture("pagerduty.ics")
    return Rotation.objects.create(
        team=team, name="Payments primary", url=server.url("/payments.ics"), person_rule="pagerduty"
    )


def test_a_bad_feed_keeps_the_previous_shifts_and_other_rotations_go_on(
    feed_rotation, server, team, lead, primary, caplog
):
    assert read_rotation(feed_rotation, now=NOW).state == "changed"
    assert feed_rotation.shifts.count() == 3
    other = Rotation.objects.create(
        team=team, name="Other", uploaded=fixture("tokyo_weekly.ics").decode()
    )
    server.feeds["/payments.ics"] = b"<html>Sign in</html>"
    from oncall.rotations.read import read_rotations

    results = read_rotations([feed_rotation, other], now=NOW)
    assert [r.state for r in results] == ["error", "changed"]
    feed_rotation.refresh_from_db()
    assert feed_rotation.error_code == "not_ical"
    assert "not an iCalendar file" in feed_rotation.error_text
    assert feed_rotation.shifts.count() == 3  # kept
    assert "not_ical" in caplog.text
    assert other.shifts.count() == 7


def test_it_reads_with_etag_and_takes_304_without_parsing(feed_rotation, server, primary):
    assert read_rotation(feed_rotation, now=NOW).state == "changed"
    feed_rotation.refresh_from_db()
    assert feed_rotation.etag
    assert read_rotation(feed_rotation, now=NOW).state == "not_modified"
    assert server.requests[-1] == ("/payments.ics", feed_rotation.etag)
    # A server without ETags answering the same bytes: read, hashed, not stored again.
    server.etags = False
    assert read_rotation(feed_rotation, now=NOW).state == "unchanged"


def test_it_names_a_404(feed_rotation, server):
    feed_rotation.url = server.url("/gone.ics")
    assert read_rotation(feed_rotation, now=NOW).error == "The feed answered 404."


def test_it_gives_up_on_a_slow_feed_after_five_seconds(feed_rotation, server):
    server.slow["/payments.ics"] = feeds.TIMEOUT_SECONDS + 1
    result = read_rotation(feed_rotation, now=NOW)
    assert result.error == "The feed did not answer within 5 seconds."


def test_it_stops_reading_an_oversized_feed_at_two_mib(feed_rotation, server):
    feed_rotation.url = server.url("/huge.ics")
    result = read_rotation(feed_rotation, now=NOW)
    assert result.error == "The feed is larger than 2 MiB; it was not read."


def test_it_refuses_private_addresses_unless_allowed(feed_rotation, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    result = read_rotation(feed_rotation, now=NOW)
    assert "127.0.0.1 is not allowed" in result.error


def test_it_takes_webcal_as_https_and_refuses_other_schemes():
    assert feeds.normalise_url("webcal://example.com/a.ics") == "https://example.com/a.ics"
    for url in ("ftp://example.com/a.ics", "file:///etc/passwd", "javascript:alert(1)"):
        with pytest.raises(FeedError):
            feeds.normalise_url(url)


# -- people --


def test_it_matches_people_by_email_and_lists_the_others_until_linked(
    feed_rotation, team, primary, lead, trainee
):
    read_rotation(feed_rotation, now=NOW)
    people = dict(feed_rotation.shifts.values_list("email", "person__username"))
    assert people == {
        "primary@example.com": "primary",
        "lead@example.com": "lead",
        "kenji@elsewhere.example": None,
    }
    assert link_person(team=team, name="kenji watanabe", user=trainee) == 1
    assert RotationShift.objects.get(email="kenji@elsewhere.example").person == trainee


def test_beat_reads_the_feeds_whose_interval_has_passed(feed_rotation, settings, primary, lead):
    from oncall.celery import app
    from oncall.rotations.read import read_due

    assert app.conf.beat_schedule["rotations-read-due"]["task"] == (
        "oncall.rotations.tasks.read_due"
    )
    settings.ROTATIONS_POLL_MINUTES = 15
    assert [r.state for r in read_due(now=NOW)] == ["changed"]  # never read yet
    assert read_due(now=NOW + timedelta(minutes=14)) == []
    assert [r.state for r in read_due(now=NOW + timedelta(minutes=15))] == ["not_modified"]
