"""iCalendar feeds, read back with vobject (a different parser than the one that wrote them)."""

from datetime import UTC, datetime, timedelta

import pytest
import vobject
from django.urls import reverse
from django.utils import timezone

from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SITE_URL = "https://oncall.example.com"


def make_shift(team, trainee, primary, starts_at, hours=8, **fields):
    return ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        **fields,
    )


def feed_url(user) -> str:
    return reverse("shifts:feed", args=[user.profile.calendar_token])


def events_by_uid(body: bytes) -> dict:
    calendar = vobject.readOne(body.decode())
    return {event.uid.value: event for event in calendar.contents.get("vevent", [])}


@pytest.fixture
def soon():
    return (timezone.now() + timedelta(days=1)).replace(microsecond=0)


def test_it_serves_my_shifts_to_a_calendar_app(client, team, trainee, primary, soon):
    shift = make_shift(team, trainee, primary, soon)
    reverse_shift = make_shift(
        team, trainee, primary, soon + timedelta(days=1), kind=ShadowShift.Kind.REVERSE_SHADOW
    )
    response = client.get(feed_url(trainee))  # no session: the token is the key
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = events_by_uid(response.content)
    assert set(events) == {f"shift-{shift.uid}@oncall", f"shift-{reverse_shift.uid}@oncall"}
    event = events[f"shift-{shift.uid}@oncall"]
    assert event.dtstart.value == shift.starts_at
    assert event.dtstart.value.utcoffset() == timedelta(0)
    assert event.dtend.value == shift.ends_at
    assert event.sequence.value == "0"
    assert event.status.value == "CONFIRMED"
    assert event.summary.value == "Shadow shift: trainee shadows primary"
    assert event.url.value == f"https://oncall.example.com/shifts/{shift.pk}/"
    assert f"https://oncall.example.com/shifts/{shift.pk}/" in event.description.value
    assert event.dtstamp.value is not None
    other = events[f"shift-{reverse_shift.uid}@oncall"]
    assert other.summary.value.startswith("Reverse shadow: trainee on call")


def test_it_is_the_primarys_feed_too(client, team, trainee, primary, soon):
    shift = make_shift(team, trainee, primary, soon)
    assert set(events_by_uid(client.get(feed_url(primary)).content)) == {
        f"shift-{shift.uid}@oncall"
    }


def test_it_keeps_the_uid_and_bumps_the_sequence_when_a_shift_moves(
    client, team, trainee, primary, soon
):
    shift = make_shift(team, trainee, primary, soon)
    uid = f"shift-{shift.uid}@oncall"
    shift.reschedule(starts_at=soon + timedelta(hours=2), ends_at=soon + timedelta(hours=10))
    event = events_by_uid(client.get(feed_url(trainee)).content)[uid]
    assert event.sequence.value == "1"
    assert event.dtstart.value == soon + timedelta(hours=2)


def test_it_keeps_a_cancelled_shift_as_cancelled(client, team, trainee, primary, soon):
    shift = make_shift(team, trainee, primary, soon)
    shift.cancel()
    event = events_by_uid(client.get(feed_url(trainee)).content)[f"shift-{shift.uid}@oncall"]
    assert event.status.value == "CANCELLED"
    assert event.sequence.value == "1"


def test_it_writes_crlf_lines_folded_at_75_octets(client, team, django_user_model, soon):
    long_name = "Wolfeschlegelsteinhausenbergerdorff-Ōtsuka"
    trainee = make_user(django_user_model, "t")
    primary = make_user(django_user_model, "p")
    trainee.first_name, trainee.last_name = "Hubert Blaine", long_name
    trainee.save()
    Membership.objects.create(user=trainee, team=team)
    Membership.objects.create(user=primary, team=team)
    make_shift(team, trainee, primary, soon)
    body = client.get(feed_url(trainee)).content
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")
    assert b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # something was folded
    summary = next(iter(events_by_uid(body).values())).summary.value
    assert long_name in summary


def test_it_answers_404_to_a_wrong_or_old_token(client, team, trainee, primary, soon):
    make_shift(team, trainee, primary, soon)
    good = trainee.profile.calendar_token
    assert client.get(reverse("shifts:feed", args=["x" * len(good)])).status_code == 404
    assert client.get(reverse("shifts:feed", args=[good[:8] + "y" * 35])).status_code == 404
    assert client.get(reverse("shifts:feed", args=[good[:-1]])).status_code == 404
    trainee.profile.regenerate_calendar_token()
    assert client.get(reverse("shifts:feed", args=[good])).status_code == 404
    assert client.get(feed_url(trainee)).status_code == 200


def test_it_leaves_out_other_peoples_shifts(client, team, trainee, primary, lead, soon):
    make_shift(team, lead, primary, soon)
    assert events_by_uid(client.get(feed_url(trainee)).content) == {}


def test_it_serves_the_team_feed_to_leads_only(
    client, team, lead, trainee, primary, outsider, soon
):
    shift = make_shift(team, trainee, primary, soon)

    def team_feed(user):
        return client.get(
            reverse("shifts:feed_team", args=[user.profile.calendar_token, team.slug])
        )

    response = team_feed(lead)
    assert response.status_code == 200
    assert set(events_by_uid(response.content)) == {f"shift-{shift.uid}@oncall"}
    assert team_feed(trainee).status_code == 404
    assert team_feed(outsider).status_code == 404


def test_it_reads_the_feed_in_a_fixed_number_of_queries(
    client, team, trainee, primary, soon, django_assert_max_num_queries
):
    for n in range(40):
        shift = make_shift(team, trainee, primary, soon + timedelta(hours=9 * n), hours=8)
        if n % 5 == 0:
            shift.cancel()
    # The person and their shifts, and one for the events other apps add (drills).
    with django_assert_max_num_queries(3):
        response = client.get(feed_url(trainee))
    assert len(events_by_uid(response.content)) == 40


def test_it_drops_shifts_long_past(client, team, trainee, primary):
    make_shift(team, trainee, primary, datetime(2020, 1, 6, 0, tzinfo=UTC))
    assert events_by_uid(client.get(feed_url(trainee)).content) == {}


def test_it_shows_a_renamed_person_at_once(client, team, trainee, primary, soon):
    shift = make_shift(team, trainee, primary, soon)
    uid = f"shift-{shift.uid}@oncall"
    assert (
        "shadows primary" in events_by_uid(client.get(feed_url(trainee)).content)[uid].summary.value
    )
    primary.first_name, primary.last_name = "Priya", "Raman"
    primary.save()
    summary = events_by_uid(client.get(feed_url(trainee)).content)[uid].summary.value
    assert summary == "Shadow shift: trainee shadows Priya Raman"


def test_it_answers_head_and_refuses_post(client, trainee):
    assert client.head(feed_url(trainee)).status_code == 200
    assert client.post(feed_url(trainee)).status_code == 405
