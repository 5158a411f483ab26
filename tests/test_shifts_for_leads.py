"""The shifts page as a lead and a primary see it, and the lead's pickers."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from oncall.readiness.progress import start_onboarding
from oncall.teams.models import Membership
from tests.conftest import make_user
from tests.test_readiness_support import make_template
from tests.test_shifts import form_data, make_shift


@pytest.fixture
def newcomer(django_user_model, team, lead):
    """A member onboarding in the team: a trainee, not yet a primary."""
    user = make_user(django_user_model, "newcomer")
    user.first_name = "Zed"
    user.save()
    Membership.objects.create(user=user, team=team)
    start_onboarding(engineer=user, team=team, template=make_template(team), started_by=lead)
    return user


def options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)
    return [label.strip() for label in re.findall(r'<option value="\d+"[^>]*>([^<]+)<', select)]


def test_it_shows_a_lead_on_no_shift_the_teams_next_shifts(
    client_for, lead, trainee, primary, team
):
    make_shift(team, trainee, primary, timezone.now() + timedelta(days=1))
    page = client_for(lead).get(reverse("shifts:index")).content.decode()
    assert "Coming up in your team" in page
    assert "<strong>trainee</strong> shadows <strong>primary</strong>" in page
    assert "No upcoming shifts" not in page
    assert "You are not paired" not in page


def test_a_member_with_no_shift_reads_it_once_beside_the_teams_calendar(
    client_for, newcomer, trainee, primary, team
):
    make_shift(team, trainee, primary, timezone.now() + timedelta(days=1))
    page = client_for(newcomer).get(reverse("shifts:index")).content.decode()
    assert "Nothing scheduled for you yet" in page
    assert 'id="upcoming-title"' not in page  # no second, empty "Coming up" card
    assert "trainee · primary" in page  # the team's calendar still shows the shift


def test_it_lists_trainees_first_and_only_experienced_primaries(
    client_for, lead, trainee, primary, newcomer
):
    page = client_for(lead).get(reverse("shifts:new")).content.decode()
    trainees = options(page, "trainee")
    primaries = options(page, "primary")
    assert trainees[0] == "Zed"  # onboarding now: first, although last by name
    assert set(trainees) == {"Zed", "lead", "primary", "trainee"}
    assert "Zed" not in primaries and "primary" in primaries
    # Someone still onboarding cannot be put in as primary, even by a crafted POST.
    response = client_for(lead).post(reverse("shifts:new"), form_data(trainee, newcomer))
    assert response.status_code == 422
    assert "a primary is on call already" in response.content.decode()


def test_it_keeps_the_current_primary_choosable_when_editing(
    client_for, lead, trainee, newcomer, team
):
    shift = make_shift(team, trainee, newcomer, timezone.now() + timedelta(days=2))
    page = client_for(lead).get(reverse("shifts:edit", args=[shift.pk])).content.decode()
    assert "Zed" in options(page, "primary")


def test_it_shows_the_debrief_banner_to_the_trainee_only(client_for, trainee, primary, team):
    make_shift(team, trainee, primary, timezone.now() - timedelta(hours=12))
    assert "waiting for you" in client_for(trainee).get(reverse("shifts:index")).content.decode()
    assert (
        "waiting for you" not in client_for(primary).get(reverse("shifts:index")).content.decode()
    )
