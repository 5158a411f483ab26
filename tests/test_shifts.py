"""Shadow shifts: scheduling, validation, permissions, my shifts and the calendar."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership
from tests.conftest import make_user

TOKYO = ZoneInfo("Asia/Tokyo")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Users here sign in with force_login; a slow hasher would only cost time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_shift(team, trainee, primary, starts_at, hours=8, **fields):
    return ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        time_zone=fields.pop("time_zone", team.time_zone),
        **fields,
    )


def form_data(trainee, primary, **overrides):
    data = {
        "team": "payments",
        "trainee": trainee.pk,
        "primary": primary.pk,
        "kind": "shadow",
        "time_zone": "Asia/Tokyo",
        "starts_on": "2026-12-07",
        "start_time": "09:00",
        "end_time": "17:00",
        "ends_on": "",
        "repeat": "once",
        "weeks": "1",
    }
    data.update(overrides)
    return data


@pytest.fixture
def teammate(django_user_model, team):
    """Another member of payments, not part of the shifts under test."""
    user = make_user(django_user_model, "teammate", tz="Europe/London")
    Membership.objects.create(user=user, team=team)
    return user


@pytest.fixture
def started(team, trainee, primary):
    """A shadow shift that began an hour ago."""
    return make_shift(team, trainee, primary, timezone.now() - timedelta(hours=1))


@pytest.fixture
def upcoming(team, trainee, primary):
    return make_shift(team, trainee, primary, timezone.now() + timedelta(days=2))


# The model ---------------------------------------------------------------


def test_it_bumps_the_sequence_on_every_change(started):
    assert started.sequence == 0
    started.reschedule(starts_at=started.starts_at, ends_at=started.ends_at + timedelta(hours=1))
    started.mark_done(by=started.primary)
    started.refresh_from_db()
    assert started.sequence == 2
    assert started.state == ShadowShift.State.DONE
    started.cancel()
    started.refresh_from_db()
    assert (started.sequence, started.state) == (3, ShadowShift.State.CANCELLED)


def test_it_stamps_the_first_debrief_time_only(started):
    started.write_debrief(pages_seen="one", made_sense="", open_questions="", runbook_gaps="")
    first = started.debriefed_at
    assert first is not None
    started.write_debrief(pages_seen="two", made_sense="", open_questions="", runbook_gaps="")
    started.refresh_from_db()
    assert started.debriefed_at == first
    assert started.debrief_pages_seen == "two"
    # Writing the debrief does not mark the shift done: that is its own step.
    assert started.state == ShadowShift.State.SCHEDULED


# Scheduling: who may ----------------------------------------------------


def test_it_shows_the_schedule_form_to_a_lead(client_for, lead, trainee, primary):
    response = client_for(lead).get(reverse("shifts:new"))
    assert response.status_code == 200
    assert response.context["form"]["time_zone"].value() == "Asia/Tokyo"
    assert b"Schedule shifts" in response.content


@pytest.mark.parametrize("who", ["trainee", "primary"])
def test_it_hides_the_schedule_form_from_members(client_for, request, who, lead):
    user = request.getfixturevalue(who)
    assert client_for(user).get(reverse("shifts:new")).status_code == 404


def test_it_does_not_let_another_teams_lead_schedule(client_for, outsider, trainee, primary):
    client = client_for(outsider)
    assert client.get(reverse("shifts:new") + "?team=payments").status_code == 404
    response = client.post(reverse("shifts:new"), form_data(trainee, primary))
    assert response.status_code == 404
    assert not ShadowShift.objects.exists()


def test_it_lets_staff_schedule_for_any_team(client_for, staff, trainee, primary):
    response = client_for(staff).post(reverse("shifts:new"), form_data(trainee, primary))
    assert response.status_code == 302
    assert ShadowShift.objects.get().created_by == staff


# Scheduling: series and time zones --------------------------------------


def test_it_schedules_two_weeks_of_weekdays_in_tokyo(client_for, lead, trainee, primary, team):
    response = client_for(lead).post(
        reverse("shifts:new"), form_data(trainee, primary, repeat="weekdays", weeks="2")
    )
    assert response.status_code == 302
    shifts = list(ShadowShift.objects.order_by("starts_at"))
    assert len(shifts) == 10
    assert len({s.series for s in shifts}) == 1 and shifts[0].series is not None
    assert {s.starts_at.astimezone(TOKYO).time() for s in shifts} == {time(9)}
    assert {s.starts_at.astimezone(UTC).time() for s in shifts} == {time(0)}
    assert all(s.starts_at.astimezone(TOKYO).weekday() < 5 for s in shifts)
    assert {(s.team, s.trainee, s.primary, s.kind) for s in shifts} == {
        (team, trainee, primary, "shadow")
    }
    assert {s.time_zone for s in shifts} == {"Asia/Tokyo"}


def test_it_schedules_overnights_in_a_chosen_zone_across_dst(client_for, lead, trainee, primary):
    # Every Tuesday 22:00-06:00 London time for four weeks, across 25 October.
    data = form_data(
        trainee,
        primary,
        time_zone="Europe/London",
        starts_on="2026-10-13",
        start_time="22:00",
        end_time="06:00",
        repeat="weekly",
        weeks="4",
        kind="reverse_shadow",
    )
    assert client_for(lead).post(reverse("shifts:new"), data).status_code == 302
    shifts = list(ShadowShift.objects.order_by("starts_at"))
    assert [s.starts_at.astimezone(LONDON).strftime("%a %H:%M") for s in shifts] == [
        "Tue 22:00"
    ] * 4
    assert {s.ends_at.astimezone(LONDON).time() for s in shifts} == {time(6)}
    assert shifts[0].starts_at == datetime(2026, 10, 13, 21, tzinfo=UTC)
    assert shifts[2].starts_at == datetime(2026, 10, 27, 22, tzinfo=UTC)
    assert {s.kind for s in shifts} == {"reverse_shadow"}


def test_it_refuses_a_start_time_in_the_dst_gap(client_for, lead, trainee, primary):
    data = form_data(
        trainee,
        primary,
        time_zone="America/New_York",
        starts_on="2026-03-08",
        start_time="02:30",
        end_time="10:00",
    )
    response = client_for(lead).post(reverse("shifts:new"), data)
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "does not exist in America/New_York" in errors["start_time"][0]
    assert "Sunday 8 March 2026, 02:30" in errors["start_time"][0]
    assert b'value="02:30"' in response.content  # what was typed is kept
    assert not ShadowShift.objects.exists()


def test_it_asks_which_one_when_a_time_happens_twice(client_for, lead, trainee, primary):
    client = client_for(lead)
    data = form_data(
        trainee,
        primary,
        time_zone="America/New_York",
        starts_on="2026-11-01",
        start_time="01:30",
        end_time="09:00",
    )
    response = client.post(reverse("shifts:new"), data)
    assert response.status_code == 422
    assert "happens twice" in response.context["form"].errors["start_time"][0]
    html = response.content.decode()
    assert 'name="fold"' in html
    assert "first (UTC\u221204:00)" in html and "second (UTC\u221205:00)" in html
    assert not ShadowShift.objects.exists()

    response = client.post(reverse("shifts:new"), {**data, "fold": "1"})
    assert response.status_code == 302
    shift = ShadowShift.objects.get()
    assert shift.starts_at == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # the EST 01:30
    assert shift.ends_at == datetime(2026, 11, 1, 14, tzinfo=UTC)


def test_it_shows_no_fold_choice_for_ordinary_times(client_for, lead, trainee, primary):
    response = client_for(lead).get(reverse("shifts:new"))
    assert b'name="fold"' not in response.content


# Scheduling: validation --------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"ends_on": "2026-12-06"}, "ends_on", "must end after it starts"),
        ({"ends_on": "2026-12-15"}, "ends_on", "at most 7 days"),
        ({"ends_on": "2026-12-07", "end_time": "08:00"}, "end_time", "must end after it starts"),
        ({"start_time": "", "end_time": "25:00"}, "end_time", "valid time"),
        ({"starts_on": "9999-12-31", "repeat": "daily", "weeks": "2"}, "starts_on", "2999"),
        ({"ends_on": "0001-01-01"}, "ends_on", "2000"),
    ],
)
def test_it_refuses_bad_times(client_for, lead, trainee, primary, overrides, field, message):
    response = client_for(lead).post(
        reverse("shifts:new"), form_data(trainee, primary, **overrides)
    )
    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors[field])
    assert not ShadowShift.objects.exists()


def test_it_accepts_a_week_long_shift(client_for, lead, trainee, primary):
    data = form_data(trainee, primary, ends_on="2026-12-14", end_time="09:00")
    assert client_for(lead).post(reverse("shifts:new"), data).status_code == 302
    assert ShadowShift.objects.get().ends_at - ShadowShift.objects.get().starts_at == timedelta(
        days=7
    )


def test_it_refuses_a_trainee_shadowing_themself(client_for, lead, trainee):
    response = client_for(lead).post(reverse("shifts:new"), form_data(trainee, trainee))
    assert response.status_code == 422
    assert "cannot shadow themself" in response.context["form"].errors["primary"][0]


def test_it_refuses_people_outside_the_team(client_for, lead, trainee, outsider):
    response = client_for(lead).post(reverse("shifts:new"), form_data(trainee, outsider))
    assert response.status_code == 422
    assert "member of this team" in response.context["form"].errors["primary"][0]
    assert not ShadowShift.objects.exists()


def test_it_names_the_clashing_shift_of_the_trainee(
    client_for, lead, trainee, primary, teammate, team
):
    existing = make_shift(team, trainee, teammate, datetime(2026, 12, 7, 6, tzinfo=UTC))
    response = client_for(lead).post(reverse("shifts:new"), form_data(trainee, primary))
    assert response.status_code == 422
    error = response.context["form"].errors["trainee"][0]
    assert f"#{existing.pk}" in error
    assert "Mon 7 Dec 2026, 15:00–23:00 JST" in error
    assert "Taro" in error or "trainee" in error
    assert ShadowShift.objects.count() == 1


def test_it_names_the_clashing_shift_of_the_primary(
    client_for, lead, trainee, primary, teammate, team
):
    # A series whose last day clashes with the primary's own shift.
    existing = make_shift(team, teammate, primary, datetime(2026, 12, 11, 7, tzinfo=UTC))
    data = form_data(trainee, primary, repeat="weekdays", weeks="1")
    response = client_for(lead).post(reverse("shifts:new"), data)
    assert response.status_code == 422
    assert f"#{existing.pk}" in response.context["form"].errors["primary"][0]
    assert ShadowShift.objects.count() == 1


def test_a_clash_in_another_team_says_when_but_not_with_whom(
    client_for, lead, trainee, primary, other_team, django_user_model
):
    # The primary is also in platform, paired there with someone payments' lead
    # has no business knowing about.
    Membership.objects.create(user=primary, team=other_team)
    stranger = make_user(django_user_model, "stranger")
    Membership.objects.create(user=stranger, team=other_team)
    make_shift(other_team, stranger, primary, datetime(2026, 12, 7, 6, tzinfo=UTC))
    response = client_for(lead).post(reverse("shifts:new"), form_data(trainee, primary))
    assert response.status_code == 422
    error = response.context["form"].errors["primary"][0]
    assert "already has a shift in another team then: Mon 7 Dec 2026, 15:00–23:00 JST" in error
    assert "stranger" not in error and "#" not in error


def test_it_allows_back_to_back_and_over_cancelled_shifts(client_for, lead, trainee, primary, team):
    make_shift(team, trainee, primary, datetime(2026, 12, 7, 8, tzinfo=UTC))  # ends 16:00 UTC
    cancelled = make_shift(team, trainee, primary, datetime(2026, 12, 7, 0, tzinfo=UTC))
    cancelled.cancel()
    response = client_for(lead).post(reverse("shifts:new"), form_data(trainee, primary))
    assert response.status_code == 302
    assert ShadowShift.objects.count() == 3


def test_it_refuses_a_series_whose_shifts_overlap_each_other(client_for, lead, trainee, primary):
    data = form_data(trainee, primary, ends_on="2026-12-09", repeat="daily", weeks="1")
    response = client_for(lead).post(reverse("shifts:new"), data)
    assert response.status_code == 422
    assert "overlap each other" in response.context["form"].errors["end_time"][0]


# Editing and cancelling -------------------------------------------------


def series_in_london(client, trainee, primary, **overrides):
    data = form_data(
        trainee,
        primary,
        time_zone="Europe/London",
        starts_on="2026-10-21",
        repeat="daily",
        weeks="1",
        **overrides,
    )
    assert client.post(reverse("shifts:new"), data).status_code == 302
    return list(ShadowShift.objects.order_by("starts_at"))


def test_it_moves_one_shift(client_for, lead, trainee, primary):
    client = client_for(lead)
    shifts = series_in_london(client, trainee, primary)
    target = shifts[2]
    data = {
        "trainee": trainee.pk,
        "primary": primary.pk,
        "kind": "shadow",
        "time_zone": "Europe/London",
        "starts_on": "2026-10-23",
        "start_time": "10:00",
        "end_time": "18:00",
        "scope": "this",
    }
    response = client.post(reverse("shifts:edit", args=[target.pk]), data)
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.starts_at == datetime(2026, 10, 23, 9, tzinfo=UTC)
    assert target.sequence == 1
    others = ShadowShift.objects.exclude(pk=target.pk)
    assert {s.sequence for s in others} == {0}


def test_it_moves_this_and_the_following_shifts_across_dst(client_for, lead, trainee, primary):
    client = client_for(lead)
    shifts = series_in_london(client, trainee, primary)  # 21..27 October, 09:00 London
    data = {
        "trainee": trainee.pk,
        "primary": primary.pk,
        "kind": "reverse_shadow",
        "time_zone": "Europe/London",
        "starts_on": "2026-10-23",
        "start_time": "10:00",
        "end_time": "12:00",
        "scope": "following",
    }
    response = client.post(reverse("shifts:edit", args=[shifts[2].pk]), data)
    assert response.status_code == 302
    moved = list(ShadowShift.objects.order_by("starts_at"))
    local = [s.starts_at.astimezone(LONDON) for s in moved]
    assert [t.strftime("%d %H:%M") for t in local] == [
        "21 09:00",
        "22 09:00",
        "23 10:00",
        "24 10:00",
        "25 10:00",
        "26 10:00",
        "27 10:00",
    ]
    assert moved[4].starts_at == datetime(2026, 10, 25, 10, tzinfo=UTC)  # GMT now
    assert [s.kind for s in moved] == ["shadow"] * 2 + ["reverse_shadow"] * 5
    assert [s.sequence for s in moved] == [0, 0, 1, 1, 1, 1, 1]


def test_it_lets_a_shift_move_over_its_own_old_time(client_for, lead, trainee, primary, team):
    shift = make_shift(team, trainee, primary, datetime(2026, 12, 7, 0, tzinfo=UTC))
    data = {
        "trainee": trainee.pk,
        "primary": primary.pk,
        "kind": "shadow",
        "time_zone": "Asia/Tokyo",
        "starts_on": "2026-12-07",
        "start_time": "10:00",
        "end_time": "18:00",
    }
    assert client_for(lead).post(reverse("shifts:edit", args=[shift.pk]), data).status_code == 302
    shift.refresh_from_db()
    assert shift.starts_at == datetime(2026, 12, 7, 1, tzinfo=UTC)


def test_it_shows_the_edit_form_with_local_times(client_for, lead, trainee, primary, team):
    shift = make_shift(team, trainee, primary, datetime(2026, 12, 7, 13, tzinfo=UTC))
    response = client_for(lead).get(reverse("shifts:edit", args=[shift.pk]))
    assert response.status_code == 200
    assert b'value="22:00"' in response.content
    assert b'value="2026-12-08"' in response.content  # ends the next morning, Tokyo time


def test_it_cancels_one_shift_or_the_rest_of_a_series(client_for, lead, trainee, primary):
    client = client_for(lead)
    shifts = series_in_london(client, trainee, primary)
    client.post(reverse("shifts:cancel", args=[shifts[1].pk]), {"scope": "this"})
    client.post(reverse("shifts:cancel", args=[shifts[4].pk]), {"scope": "following"})
    states = list(ShadowShift.objects.order_by("starts_at").values_list("state", "sequence"))
    assert states == [
        ("scheduled", 0),
        ("cancelled", 1),
        ("scheduled", 0),
        ("scheduled", 0),
        ("cancelled", 1),
        ("cancelled", 1),
        ("cancelled", 1),
    ]


@pytest.mark.parametrize("who", ["trainee", "primary", "teammate"])
def test_it_lets_only_leads_edit_and_cancel(client_for, request, who, upcoming):
    client = client_for(request.getfixturevalue(who))
    assert client.get(reverse("shifts:edit", args=[upcoming.pk])).status_code == 403
    assert client.post(reverse("shifts:cancel", args=[upcoming.pk])).status_code == 403
    upcoming.refresh_from_db()
    assert upcoming.state == ShadowShift.State.SCHEDULED


# Seeing a shift ----------------------------------------------------------


@pytest.mark.parametrize("who", ["trainee", "primary", "lead", "teammate", "staff"])
def test_it_shows_the_shift_to_those_who_may_see_it(client_for, request, who, upcoming):
    response = client_for(request.getfixturevalue(who)).get(upcoming.get_absolute_url())
    assert response.status_code == 200


def test_it_hides_the_shift_from_another_team(client_for, outsider, upcoming):
    client = client_for(outsider)
    assert client.get(upcoming.get_absolute_url()).status_code == 404
    for name in ("shifts:done", "shifts:cancel", "shifts:debrief"):
        assert client.post(reverse(name, args=[upcoming.pk])).status_code == 404
    assert client.get(reverse("shifts:edit", args=[upcoming.pk])).status_code == 404


def test_it_shows_times_in_the_viewers_zone(client_for, teammate, trainee, upcoming):
    london = client_for(teammate).get(upcoming.get_absolute_url()).content.decode()
    local = upcoming.starts_at.astimezone(LONDON)
    assert f"{local:%H:%M}" in london and "GMT" in london
    tokyo = client_for(trainee).get(upcoming.get_absolute_url()).content.decode()
    assert f"{upcoming.starts_at.astimezone(TOKYO):%H:%M}" in tokyo and "JST" in tokyo


# Mark done and debrief ---------------------------------------------------


@pytest.mark.parametrize("who", ["primary", "lead"])
def test_it_lets_the_primary_and_leads_confirm_a_shift(client_for, request, who, started):
    person = request.getfixturevalue(who)
    response = client_for(person).post(reverse("shifts:done", args=[started.pk]))
    assert response.status_code == 302
    started.refresh_from_db()
    assert started.state == ShadowShift.State.DONE
    assert started.sequence == 1
    assert (started.confirmed_by, started.confirmed_at is not None) == (person, True)


def test_it_lets_the_trainee_only_record_attending(client_for, trainee, primary, started):
    client = client_for(trainee)
    page = client.get(started.get_absolute_url()).content.decode()
    assert "I attended" in page and "Confirm it happened" not in page

    client.post(reverse("shifts:done", args=[started.pk]))

    started.refresh_from_db()
    assert started.state == ShadowShift.State.SCHEDULED  # it does not count yet
    assert started.attended_at is not None and started.confirmed_by is None
    page = client.get(started.get_absolute_url()).content.decode()
    assert "attended, waiting for primary’s confirmation" in page
    # The primary confirms; now it counts.
    client_for(primary).post(reverse("shifts:done", args=[started.pk]))
    started.refresh_from_db()
    assert (started.state, started.confirmed_by) == (ShadowShift.State.DONE, primary)


def test_it_does_not_let_a_teammate_mark_done_or_debrief(client_for, teammate, started):
    client = client_for(teammate)
    assert client.post(reverse("shifts:done", args=[started.pk])).status_code == 403
    response = client.post(reverse("shifts:debrief", args=[started.pk]), {"pages_seen": "x"})
    assert response.status_code == 403
    started.refresh_from_db()
    assert started.state == ShadowShift.State.SCHEDULED and started.debriefed_at is None
    assert b'name="pages_seen"' not in client.get(started.get_absolute_url()).content


def test_it_does_not_mark_a_future_shift_done(client_for, trainee, upcoming):
    client_for(trainee).post(reverse("shifts:done", args=[upcoming.pk]))
    upcoming.refresh_from_db()
    assert upcoming.state == ShadowShift.State.SCHEDULED


def test_it_saves_a_debrief_with_runbooks(client_for, trainee, started, team, other_team):
    ours = Runbook.objects.create(slug="payments/psp", title="PSP timeouts", team=team)
    theirs = Runbook.objects.create(slug="platform/dns", title="DNS", team=other_team)
    client = client_for(trainee)
    page = client.get(started.get_absolute_url()).content.decode()
    assert "PSP timeouts" in page and "DNS" not in page
    response = client.post(
        reverse("shifts:debrief", args=[started.pk]),
        {
            "pages_seen": "PaymentsHighErrorRate twice",
            "made_sense": "status page first",
            "open_questions": "who decides failover?",
            "runbook_gaps": "acquirer dashboard missing",
            "runbooks": [ours.pk],
        },
    )
    assert response.status_code == 302
    started.refresh_from_db()
    assert started.debriefed_at is not None
    assert started.debrief_open_questions == "who decides failover?"
    assert list(started.debrief_runbooks.all()) == [ours]
    page = client.get(started.get_absolute_url()).content.decode()
    assert ours.get_absolute_url() in page

    response = client.post(
        reverse("shifts:debrief", args=[started.pk]),
        {"pages_seen": "x", "runbooks": [theirs.pk]},
    )
    assert response.status_code == 422
    assert list(started.debrief_runbooks.all()) == [ours]


def test_it_refuses_an_empty_debrief_and_keeps_the_form(client_for, trainee, started):
    response = client_for(trainee).post(
        reverse("shifts:debrief", args=[started.pk]), {"pages_seen": "  "}
    )
    assert response.status_code == 422
    assert "at least one line" in response.content.decode()
    started.refresh_from_db()
    assert started.debriefed_at is None


def test_it_refuses_a_debrief_before_the_shift(client_for, trainee, upcoming):
    client_for(trainee).post(reverse("shifts:debrief", args=[upcoming.pk]), {"pages_seen": "x"})
    upcoming.refresh_from_db()
    assert upcoming.debriefed_at is None


# My shifts and the calendar ----------------------------------------------


def test_it_lists_my_upcoming_shifts_with_a_countdown(client_for, trainee, upcoming, started):
    response = client_for(trainee).get(reverse("shifts:index"))
    assert response.status_code == 200
    assert response.context["upcoming"] == [started, upcoming]
    html = response.content.decode()
    assert "data-countdown" in html and "JST" in html
    assert "Priya" in html or "primary" in html


def test_it_flags_a_debrief_due(client_for, trainee, team, primary):
    make_shift(team, trainee, primary, timezone.now() - timedelta(hours=12))
    response = client_for(trainee).get(reverse("shifts:index"))
    assert len(response.context["debriefs_due"]) == 1


def test_it_draws_the_week_and_marks_today(client_for, teammate, trainee, primary, team):
    monday = datetime(2026, 12, 7, tzinfo=LONDON)
    shift = make_shift(team, trainee, primary, (monday + timedelta(hours=9)).astimezone(UTC))
    make_shift(
        team, trainee, primary, (monday + timedelta(days=2, hours=22)).astimezone(UTC), hours=8
    )
    response = client_for(teammate).get(reverse("shifts:index") + "?view=week&date=2026-12-09")
    days = response.context["cal"]["days"]
    assert [d.date.isoformat() for d in days][0] == "2026-12-07"
    assert days[0].blocks[0].card.pk == shift.pk
    assert days[0].blocks[0].top == pytest.approx(100 * 9 / 24, abs=0.01)
    # The overnight shift is cut at local midnight: two blocks on two days.
    assert days[2].blocks[0].continues_after and days[3].blocks[0].continues_before
    html = response.content.decode()
    assert "09:00–17:00 GMT" in html
    today = client_for(teammate).get(reverse("shifts:index")).content.decode()
    assert 'aria-current="date"' in today


def test_it_draws_the_month_with_links_and_htmx(client_for, trainee, upcoming):
    client = client_for(trainee)
    day = upcoming.starts_at.astimezone(TOKYO).date()
    url = reverse("shifts:index") + f"?view=month&date={day.isoformat()}"
    response = client.get(url)
    html = response.content.decode()
    assert upcoming.get_absolute_url() in html
    assert 'hx-get="/shifts/?team=payments&amp;view=month' in html
    assert 'href="/shifts/?team=payments&amp;view=month' in html
    partial = client.get(url, headers={"HX-Request": "true", "HX-Target": "calendar"})
    assert partial.status_code == 200
    body = partial.content.decode()
    assert body.lstrip().startswith('<section id="calendar"')
    assert "<html" not in body and upcoming.get_absolute_url() in body


def test_it_lets_a_member_of_two_teams_pick_the_calendar(client_for, trainee, other_team):
    Membership.objects.create(user=trainee, team=other_team)
    client = client_for(trainee)
    assert client.get(reverse("shifts:index")).context["cal"]["team"].slug == "payments"
    response = client.get(reverse("shifts:index") + "?team=platform")
    assert response.context["cal"]["team"] == other_team
    assert b'id="team-picker"' in response.content


def test_it_never_shows_another_teams_calendar(client_for, trainee, other_team):
    response = client_for(trainee).get(reverse("shifts:index") + "?team=platform")
    assert response.context["cal"]["team"].slug == "payments"


def test_it_draws_the_calendar_in_a_fixed_number_of_queries(
    client_for, django_user_model, team, trainee, primary, django_assert_max_num_queries
):
    client = client_for(trainee)
    url = reverse("shifts:index") + "?view=month&date=2026-12-01"
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for n in range(30):
        person = make_user(django_user_model, f"person{n}")
        Membership.objects.create(user=person, team=team)
        make_shift(team, person, primary if n % 2 else trainee, start + timedelta(hours=9 * n))
    with django_assert_max_num_queries(9):
        response = client.get(url)
    assert sum(len(d.blocks) for d in response.context["cal"]["days"]) >= 30
    with django_assert_max_num_queries(6):
        client.get(url, headers={"HX-Request": "true", "HX-Target": "calendar"})


# Demo data ---------------------------------------------------------------


def test_it_seeds_demo_shifts_once(db):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    shifts = list(ShadowShift.objects.filter(trainee__username="trainee").order_by("starts_at"))
    now = timezone.now()
    past = [s for s in shifts if s.ends_at < now]
    future = [s for s in shifts if s.starts_at > now]
    assert len(past) == 2 and {s.state for s in past} == {ShadowShift.State.DONE}
    assert sum(1 for s in past if s.debriefed_at) == 1
    assert [s.kind for s in future] == ["shadow"] * 3 + ["reverse_shadow"]
    assert {s.primary.username for s in shifts} == {"primary"}
    # The shift seeded "on now" (for trying live alerts) starts at any hour.
    assert all(9 <= s.starts_at.astimezone(TOKYO).hour <= 10 for s in past + future)


def test_it_keeps_dst_checks_when_editing(client_for, lead, trainee, primary, team):
    shift = make_shift(team, trainee, primary, datetime(2026, 3, 2, 14, tzinfo=UTC))
    data = {
        "trainee": trainee.pk,
        "primary": primary.pk,
        "kind": "shadow",
        "time_zone": "America/New_York",
        "starts_on": "2026-03-08",
        "start_time": "02:15",
        "end_time": "09:00",
    }
    response = client_for(lead).post(reverse("shifts:edit", args=[shift.pk]), data)
    assert response.status_code == 422
    assert "does not exist" in response.context["form"].errors["start_time"][0]
    assert b'name="scope"' not in response.content  # a single shift has no series to apply to
    shift.refresh_from_db()
    assert shift.sequence == 0 and shift.starts_at == datetime(2026, 3, 2, 14, tzinfo=UTC)


def test_it_does_not_edit_a_cancelled_shift(client_for, lead, upcoming):
    upcoming.cancel()
    response = client_for(lead).get(reverse("shifts:edit", args=[upcoming.pk]))
    assert response.status_code == 302
    assert response["Location"] == upcoming.get_absolute_url()


def test_it_bumps_the_sequence_when_staff_edit_in_admin(client_for, staff, upcoming):
    url = reverse("admin:shifts_shadowshift_change", args=[upcoming.pk])
    data = {
        "team": upcoming.team_id,
        "trainee": upcoming.trainee_id,
        "primary": upcoming.primary_id,
        "kind": "shadow",
        "starts_at_0": "2026-12-07",
        "starts_at_1": "01:00:00",
        "ends_at_0": "2026-12-07",
        "ends_at_1": "09:00:00",
        "time_zone": "Asia/Tokyo",
        "state": "scheduled",
        "debriefed_at_0": "",
        "debriefed_at_1": "",
    }
    response = client_for(staff).post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    upcoming.refresh_from_db()
    assert upcoming.starts_at == datetime(2026, 12, 7, 1, tzinfo=UTC)
    assert upcoming.sequence == 1


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "2026-13-01", "yesterday"])
def test_it_shows_today_for_a_date_it_cannot_draw(client_for, trainee, value):
    response = client_for(trainee).get(reverse("shifts:index") + f"?view=month&date={value}")
    assert response.status_code == 200
    assert response.context["cal"]["anchor"] == timezone.now().astimezone(TOKYO).date()


def test_it_answers_which_debriefs_are_due(team, trainee, primary, lead):
    now = timezone.now()
    due = make_shift(team, trainee, primary, now - timedelta(hours=11))  # ended 3 h ago
    make_shift(team, trainee, primary, now - timedelta(hours=9))  # ended 1 h ago: not yet
    cancelled = make_shift(team, trainee, primary, now - timedelta(hours=30))
    cancelled.cancel()
    written = make_shift(team, trainee, primary, now - timedelta(hours=40))
    written.write_debrief(pages_seen="x", made_sense="", open_questions="", runbook_gaps="")
    assert list(ShadowShift.objects.debrief_due(now)) == [due]
    assert ShadowShift.objects.involving(lead).count() == 0
    assert ShadowShift.objects.involving(primary).upcoming(now).count() == 0


def test_the_admin_refuses_a_runbook_id_past_64_bits(client_for, staff, started):
    url = reverse("admin:shifts_shadowshift_change", args=[started.pk])
    page = client_for(staff).get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        {
            "starts_at_0": started.starts_at.strftime("%Y-%m-%d"),
            "starts_at_1": started.starts_at.strftime("%H:%M:%S"),
            "ends_at_0": started.ends_at.strftime("%Y-%m-%d"),
            "ends_at_1": started.ends_at.strftime("%H:%M:%S"),
            "debrief_runbooks": "999999999999999999999",
        }
    )
    response = client_for(staff).post(url, data)
    assert response.status_code == 200  # the form again, with the error
    assert "debrief_runbooks" in response.context["adminform"].form.errors
