"""Removed from a team: what came through the team is gone, what is about you stays.

Before, a primary removed from payments still opened payments' shifts (past
and upcoming), confirmed them and answered their debriefs, and a mentor
removed from it still read the onboarding they had mentored. The rule
(teams/access.py): roles on a team's records last as long as the membership;
a person's own onboarding and own shifts as trainee stay theirs.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from oncall.readiness.progress import start_onboarding
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership
from tests.conftest import make_user
from tests.test_readiness_support import make_template
from tests.test_shifts import make_shift


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def teammate(django_user_model, team):
    user = make_user(django_user_model, "teammate")
    Membership.objects.create(user=user, team=team)
    return user


@pytest.fixture
def shifts(team, trainee, primary, teammate):
    """The trainee's past shift (debriefed) and next one with the primary, and a
    teammate's shift with the same primary."""
    now = timezone.now()
    past = make_shift(team, trainee, primary, now - timedelta(days=2))
    past.write_debrief(
        pages_seen="PaymentsApiDown at 03:10",
        made_sense="The failover runbook",
        open_questions="Who decides to fail over?",
        runbook_gaps="",
    )
    return {
        "past": past,
        "next": make_shift(team, trainee, primary, now + timedelta(days=1)),
        "teammate's": make_shift(team, teammate, primary, now + timedelta(days=3)),
    }


def remove(user, team) -> None:
    Membership.objects.filter(user=user, team=team).delete()


def status(client, url: str, *, post: dict | None = None) -> int:
    return (client.post(url, post) if post is not None else client.get(url)).status_code


def test_it_takes_the_teams_shifts_from_a_removed_primary_and_leaves_the_trainee_theirs(
    client, team, trainee, primary, shifts, django_assert_max_num_queries
):
    shift_urls = {name: s.get_absolute_url() for name, s in shifts.items()}
    client.force_login(primary)
    assert {status(client, url) for url in shift_urls.values()} == {200}

    remove(primary, team)
    remove(trainee, team)

    # The primary: nothing of the team's, past or upcoming, to read or act on.
    for url in shift_urls.values():
        assert status(client, url) == 404, url
    past = shifts["past"]
    answer = {"answer_0": "The incident commander.", "ready_for_reverse": "yes"}
    assert status(client, reverse("shifts:answer", args=[past.pk]), post=answer) == 404
    assert status(client, reverse("shifts:done", args=[past.pk]), post={}) == 404
    past.refresh_from_db()
    assert (past.state, past.answered_at) == (ShadowShift.State.SCHEDULED, None)
    # Nor listed where their own shifts are: the shifts page, the calendar feed, the home.
    # (One query of each page asks whether they have an onboarding of their own.)
    with django_assert_max_num_queries(7):
        page = client.get(reverse("shifts:index")).content.decode()
    assert not any(url in page for url in shift_urls.values())
    feed = client.get(reverse("shifts:feed", args=[primary.profile.calendar_token]))
    assert feed.status_code == 200
    assert not any(f"shift-{s.uid}@oncall" in feed.content.decode() for s in shifts.values())
    with django_assert_max_num_queries(8):
        home = client.get("/").content.decode()
    assert "The people you teach" not in home and shift_urls["next"] not in home

    # The trainee: their own shifts stay theirs, debrief included; a teammate's do not.
    client.force_login(trainee)
    assert status(client, shift_urls["next"]) == 200
    page = client.get(shift_urls["past"]).content.decode()
    assert "Who decides to fail over?" in page
    assert status(client, shift_urls["teammate's"]) == 404
    feed = client.get(reverse("shifts:feed", args=[trainee.profile.calendar_token]))
    assert f"shift-{shifts['next'].uid}@oncall" in feed.content.decode()


def test_it_takes_the_onboarding_from_a_removed_mentor_and_leaves_the_engineer_theirs(
    client, team, lead, trainee, teammate, django_assert_max_num_queries
):
    onboarding = start_onboarding(
        engineer=trainee,
        team=team,
        template=make_template(team),
        started_by=lead,
        mentor=teammate,
    )
    url = onboarding.get_absolute_url()
    client.force_login(teammate)
    assert status(client, url) == 200
    assert "you mentor them" in client.get("/").content.decode()

    remove(teammate, team)
    remove(trainee, team)

    assert status(client, url) == 404
    comment = reverse("readiness:comment", args=[onboarding.pk])
    assert status(client, comment, post={"note": "Still here?"}) == 404
    assert not onboarding.activities.filter(verb="comment").exists()
    with django_assert_max_num_queries(8):
        home = client.get("/").content.decode()
    assert "you mentor them" not in home and url not in home

    # The engineer still reads their own onboarding.
    client.force_login(trainee)
    assert status(client, url) == 200
