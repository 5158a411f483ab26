"""Feed events are written by oncall.shifts.ical: the same bytes icalendar writes for the same
properties, read back to the same values, whatever the names hold."""

import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from icalendar import Calendar, Event

from oncall.shifts import feeds
from oncall.shifts.ical import EventLines, fold
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership
from tests.conftest import make_user
from tests.stack import ROOT, free_port, manage

# Characters that need escaping or folding care, multi-byte ones, and plain ones.
ALPHABET = "abc XYZ 019 \\ ; , : ^ \" ' 日本語 é ß 🚨 -_/"
WHEN = datetime(2026, 12, 3, 7, 45, 12, 345678, tzinfo=UTC)


def icalendar_bytes(lines: EventLines) -> bytes:
    """What icalendar writes for the same properties."""
    event = Event()
    for name, value in lines.items():
        event.add(name, value)
    return event.to_ical()


def test_it_writes_the_bytes_icalendar_writes_for_a_shift(team, trainee, primary):
    trainee.first_name, trainee.last_name = "Taro, the new; one", "Yamada\\山田"
    trainee.save()
    shifts = [
        ShadowShift.objects.create(
            team=team, trainee=trainee, primary=primary, starts_at=WHEN + timedelta(days=n),
            ends_at=WHEN + timedelta(days=n, hours=8), kind=kind, state=state, sequence=n,
        )
        for n, (kind, state) in enumerate(
            [(ShadowShift.Kind.SHADOW, ShadowShift.State.SCHEDULED),
             (ShadowShift.Kind.REVERSE_SHADOW, ShadowShift.State.SCHEDULED),
             (ShadowShift.Kind.SHADOW, ShadowShift.State.CANCELLED)]
        )
    ]  # fmt: skip
    rows = list(feeds.shifts_for_person(trainee))
    assert len(rows) == len(shifts)
    for row in rows:
        lines = feeds.event_for(row, url=f"https://oncall.example.com/shifts/{row.pk}/")
        assert lines.to_ical() == icalendar_bytes(lines)


@pytest.mark.parametrize("seed", range(20))
def test_it_escapes_and_folds_any_text_as_icalendar_does(seed):
    rng = random.Random(seed)
    lines = EventLines()
    lines.add("uid", f"shift-{seed}@oncall")
    lines.add("sequence", seed)
    lines.add("dtstamp", WHEN)
    lines.add("dtstart", WHEN.astimezone(timezone(timedelta(hours=9))))  # same instant, JST
    lines.add("summary", "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 300))))
    lines.add(
        "description",
        "\n".join(
            "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 120)))
            for _ in range(rng.randint(1, 5))
        ),
    )
    lines.add("url", f"https://oncall.example.com/shifts/{seed}/?a=1,2;b")
    written = lines.to_ical()
    reference = Event()
    for name, value in lines.items():
        reference.add(name, value.astimezone(UTC) if isinstance(value, datetime) else value)
    assert written == reference.to_ical()
    for line in written.split(b"\r\n"):
        assert len(line) <= 75
        line.decode()  # never cut inside a character
    read = Calendar.from_ical(b"BEGIN:VCALENDAR\r\n" + written + b"END:VCALENDAR\r\n")
    event = read.walk("VEVENT")[0]
    assert str(event["summary"]) == lines["summary"]
    assert str(event["description"]) == lines["description"]
    assert event.decoded("dtstart") == WHEN.replace(microsecond=0)
    assert str(event["url"]) == lines["url"]


def test_it_keeps_an_escape_whole_across_a_fold():
    line = "SUMMARY:" + "a" * 65 + "\\,b"  # the backslash would end the first line
    folded = fold(line)
    assert folded.split("\r\n ")[1].startswith("\\,")
    assert all(len(piece.encode()) <= 75 for piece in folded.split("\r\n"))


def test_it_refuses_values_a_feed_event_does_not_hold():
    lines = EventLines()
    with pytest.raises(ValueError, match="DTSTART: a date-time in a feed must carry its time zone"):
        lines.add("dtstart", datetime(2026, 12, 3, 7, 45))  # noqa: DTZ001 - the case refused
    with pytest.raises(TypeError, match="DURATION: timedelta is not a value a feed event holds"):
        lines.add("duration", timedelta(hours=1))
    lines.add("summary", "once")
    with pytest.raises(ValueError, match="SUMMARY is already set"):
        lines.add("summary", "twice")


def test_the_feed_of_a_hostile_name_still_parses(client, team, primary, django_user_model):
    person = make_user(django_user_model, "hostile")
    person.first_name = "A;B,C\\D " + "長い名前" * 30
    person.save()
    Membership.objects.create(user=person, team=team)
    ShadowShift.objects.create(
        team=team,
        trainee=person,
        primary=primary,
        starts_at=WHEN,
        ends_at=WHEN + timedelta(hours=8),
    )
    response = client.get(f"/shifts/feed/{person.profile.calendar_token}.ics")
    assert response.status_code == 200
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert "A;B,C\\D " + "長い名前" * 30 in str(event["summary"])


def test_events_rendered_at_worker_start_answer_the_first_poll(client, team, trainee, primary):
    for n in range(3):
        ShadowShift.objects.create(
            team=team, trainee=trainee, primary=primary, starts_at=WHEN + timedelta(days=n),
            ends_at=WHEN + timedelta(days=n, hours=8),
        )  # fmt: skip
    feeds._event_bytes.cache_clear()
    assert feeds.remember_events(languages=["en", "ja"]) == 6
    rendered = feeds._event_bytes.cache_info().misses
    response = client.get(f"/shifts/feed/{trainee.profile.calendar_token}.ics")
    assert response.status_code == 200
    assert response.content.count(b"BEGIN:VEVENT") == 3
    assert feeds._event_bytes.cache_info().misses == rendered  # nothing rendered again


def run_worker_start(env: dict) -> subprocess.CompletedProcess:
    """Import the WSGI application as a gunicorn worker does at start."""
    return subprocess.run(
        [sys.executable, "-c", "import oncall.wsgi"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_worker_starts_with_events_rendered_or_without_its_database(tmp_path):
    env = {**os.environ, "ONCALL_VAR_DIR": str(tmp_path), "LOG_LEVEL": "INFO",
           "DJANGO_SETTINGS_MODULE": "oncall.settings",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'start.sqlite3'}"}  # fmt: skip
    manage(env, "migrate", "--noinput", "-v", "0")
    started = run_worker_start(env)
    assert started.returncode == 0, started.stderr[-2000:]
    assert "0 calendar events rendered ahead" in started.stderr

    # A database that does not answer: the worker still starts, and says why it is cold.
    away = run_worker_start(
        {**env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/none"}
    )
    assert away.returncode == 0, away.stderr[-2000:]
    assert "calendar events not rendered ahead at start" in away.stderr
