"""The primary's and mentor's home: the people they teach, and a read-only view for mentors."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from oncall.readiness.models import Onboarding
from oncall.readiness.progress import start_onboarding
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership
from tests.conftest import make_user
from tests.test_readiness_support import item, make_template
from tests.test_shifts import make_shift


@pytest.fixture
def mentor(django_user_model, team):
    user = make_user(django_user_model, "mentor")
    Membership.objects.create(user=user, team=team)
    return user


@pytest.fixture
def onboarding(team, trainee, lead, mentor):
    return start_onboarding(
        engineer=trainee,
        team=team,
        template=make_template(team),
        started_by=lead,
        mentor=mentor,
    )


def test_it_shows_the_primary_the_people_they_teach(client_for, team, trainee, primary, onboarding):
    now = timezone.now()
    past = make_shift(team, trainee, primary, now - timedelta(days=2))
    past.write_debrief(
        pages_seen="",
        made_sense="",
        open_questions="Who decides to fail over?",
        runbook_gaps="",
    )
    make_shift(team, trainee, primary, now + timedelta(days=1))
    page = client_for(primary).get("/").content.decode()
    assert "The people you teach" in page
    assert "You have no onboarding yet" not in page
    assert "trainee" in page and "you are their primary" in page
    assert "Next shift together:" in page
    assert "Who decides to fail over?" in page
    assert "A shift waits for your confirmation." in page  # the past shift, still scheduled
    assert "Your shifts as primary" in page


def test_it_shows_the_mentor_the_onboarding_read_only(client_for, mentor, onboarding):
    page = client_for(mentor).get("/").content.decode()
    assert "you mentor them" in page
    response = client_for(mentor).get(onboarding.get_absolute_url())
    assert response.status_code == 200
    checklist = response.content.decode()
    assert "Mark done" not in checklist and "Sign off" not in checklist
    laptop = item(onboarding, "Laptop and VPN")
    url = reverse("readiness:item", args=[onboarding.pk, laptop.pk])
    assert client_for(mentor).post(url, {"action": "tick"}).status_code == 403
    assert item(onboarding, "Laptop and VPN").done_at is None


def test_it_keeps_other_onboardings_out_of_a_mentors_reach(
    client_for, mentor, team, lead, django_user_model
):
    other = make_user(django_user_model, "other")
    Membership.objects.create(user=other, team=team)
    theirs = start_onboarding(
        engineer=other, team=team, template=make_template(team), started_by=lead
    )
    assert client_for(mentor).get(theirs.get_absolute_url()).status_code == 404


def test_it_draws_the_teaching_home_in_a_fixed_number_of_queries(
    client_for, team, primary, lead, django_user_model, django_assert_max_num_queries
):
    template = make_template(team)
    now = timezone.now()
    for n in range(12):
        person = make_user(django_user_model, f"newbie{n}")
        Membership.objects.create(user=person, team=team)
        start_onboarding(engineer=person, team=team, template=template, started_by=lead)
        make_shift(team, person, primary, now + timedelta(days=n + 1))
    client = client_for(primary)
    with django_assert_max_num_queries(9):
        page = client.get("/").content.decode()
    assert page.count("teaching-list__person") == 12
    assert Onboarding.objects.count() == 12
    assert ShadowShift.objects.count() == 12


def test_it_lets_the_mentor_confirm_their_trainees_shift(
    client_for, mentor, onboarding, team, trainee, primary, django_user_model
):
    shift = make_shift(team, trainee, primary, timezone.now() - timedelta(hours=9))
    page = client_for(mentor).get(shift.get_absolute_url()).content.decode()
    assert "Confirm it happened" in page
    client_for(mentor).post(reverse("shifts:done", args=[shift.pk]))
    shift.refresh_from_db()
    assert (shift.state, shift.confirmed_by) == (ShadowShift.State.DONE, mentor)
    # Another member of the team, who mentors nobody here, cannot.
    other = make_user(django_user_model, "other")
    Membership.objects.create(user=other, team=team)
    second = make_shift(team, trainee, primary, timezone.now() - timedelta(days=2))
    assert client_for(other).post(reverse("shifts:done", args=[second.pk])).status_code == 403


def test_it_lets_the_mentor_leave_a_note_that_is_not_progress(client_for, mentor, onboarding):
    before = Onboarding.objects.get(pk=onboarding.pk).last_activity_at
    url = reverse("readiness:comment", args=[onboarding.pk])
    client_for(mentor).post(url, {"note": "Good questions on Tuesday's shift."})
    page = client_for(mentor).get(onboarding.get_absolute_url()).content.decode()
    assert (
        "Good questions on Tuesday’s shift." in page
        or "Good questions on Tuesday&#x27;s shift." in page
    )
    assert Onboarding.objects.get(pk=onboarding.pk).last_activity_at == before
    assert onboarding.activities.get(verb="comment").actor == mentor
