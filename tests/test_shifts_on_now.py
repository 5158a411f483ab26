"""A shift is on from its start to its end, whatever its confirmation.

The primary may confirm a shift once it has started; from then on it still
shows as on now for the trainee, the primary and the team's lead, while the
alerts of the shift keep arriving.
"""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from oncall.shifts.models import ShadowShift
from tests.conftest import make_user
from tests.test_shifts import make_shift


def section(page: str, title_id: str) -> str:
    """The HTML of the card whose heading has ``title_id`` ("" when absent)."""
    match = re.search(rf'<section[^>]*aria-labelledby="{title_id}".*?</section>', page, re.S)
    return match.group(0) if match else ""


@pytest.fixture
def confirmed_live_shift(team, trainee, primary):
    """Started 4 h 20 min ago, ends in 3 h 40 min, already confirmed by the primary."""
    shift = make_shift(team, trainee, primary, timezone.now() - timedelta(hours=4, minutes=20))
    shift.book()
    shift.mark_done(by=primary)
    return shift


def test_it_keeps_a_confirmed_shift_on_now_until_its_end(confirmed_live_shift):
    now = timezone.now()
    assert confirmed_live_shift.state == ShadowShift.State.DONE
    assert confirmed_live_shift.is_on_now(now)
    assert list(ShadowShift.objects.on_now(now)) == [confirmed_live_shift]
    assert not confirmed_live_shift.is_on_now(confirmed_live_shift.ends_at)
    assert list(ShadowShift.objects.on_now(confirmed_live_shift.ends_at)) == []


def test_a_cancelled_shift_is_never_on_now(team, trainee, primary):
    shift = make_shift(team, trainee, primary, timezone.now() - timedelta(hours=1))
    shift.cancel()
    assert not shift.is_on_now()
    assert not ShadowShift.objects.on_now().exists()


def test_the_trainee_sees_the_confirmed_shift_as_on_now_not_the_next_one(
    client_for, trainee, primary, team, confirmed_live_shift
):
    tomorrow = make_shift(team, trainee, primary, timezone.now() + timedelta(days=2))
    page = client_for(trainee).get(reverse("shifts:index")).content.decode()
    card = section(page, "next-title")
    assert "Your shift, on now" in card
    assert confirmed_live_shift.get_absolute_url() in card
    assert tomorrow.get_absolute_url() not in card
    assert "confirmed" in card and "ends in" in card
    # Listed under "Coming up" too, first, while it lasts.
    coming = section(page, "upcoming-title")
    assert coming.index(confirmed_live_shift.get_absolute_url()) < coming.index(
        tomorrow.get_absolute_url()
    )
    assert 'id="recent-title"' not in page


def test_the_primary_sees_it_on_now_after_confirming(client_for, primary, confirmed_live_shift):
    page = client_for(primary).get(reverse("shifts:index")).content.decode()
    assert "Your shift, on now" in section(page, "next-title")


def test_it_moves_to_recent_once_it_has_ended(client_for, trainee, primary, team):
    shift = make_shift(team, trainee, primary, timezone.now() - timedelta(hours=9))
    shift.mark_done(by=primary)
    page = client_for(trainee).get(reverse("shifts:index")).content.decode()
    assert shift.get_absolute_url() not in section(page, "next-title")
    assert "Your shift, on now" not in page
    assert 'id="recent-title"' in page


def test_the_lead_on_no_shift_sees_the_teams_shifts_on_now(
    client_for, lead, confirmed_live_shift, trainee, primary, team
):
    later = make_shift(team, trainee, primary, timezone.now() + timedelta(days=1))
    page = client_for(lead).get(reverse("shifts:index")).content.decode()
    card = section(page, "next-title")
    assert "On now in your team" in card
    assert confirmed_live_shift.get_absolute_url() in card
    assert "You are on no shift" not in page
    assert later.get_absolute_url() in section(page, "upcoming-title")


def test_the_lead_on_a_shift_sees_the_team_on_now_beside_their_own(
    client_for, django_user_model, lead, confirmed_live_shift, team
):
    other = make_user(django_user_model, "other")
    mine = make_shift(team, other, lead, timezone.now() + timedelta(days=3))
    page = client_for(lead).get(reverse("shifts:index")).content.decode()
    assert mine.get_absolute_url() in section(page, "next-title")
    assert confirmed_live_shift.get_absolute_url() in section(page, "on-now-title")


def test_the_shift_page_says_on_now_and_confirmed(client_for, trainee, confirmed_live_shift):
    page = client_for(trainee).get(confirmed_live_shift.get_absolute_url()).content.decode()
    header = page[page.index('class="page-header"') : page.index("shift-summary")]
    assert "on now" in header
    assert "confirmed by" in header


def test_the_primary_may_confirm_from_the_start_and_not_before(client_for, trainee, primary, team):
    early = make_shift(team, trainee, primary, timezone.now() + timedelta(minutes=5))
    started = make_shift(team, trainee, primary, timezone.now() - timedelta(minutes=5), hours=1)
    client_for(primary).post(reverse("shifts:done", args=[early.pk]))
    client_for(primary).post(reverse("shifts:done", args=[started.pk]))
    early.refresh_from_db()
    started.refresh_from_db()
    assert early.state == ShadowShift.State.SCHEDULED
    assert started.state == ShadowShift.State.DONE
    assert started.is_on_now()


def test_the_shifts_page_stays_within_its_queries(
    client_for, lead, team, trainee, primary, django_assert_max_num_queries
):
    for n in range(6):
        make_shift(team, trainee, primary, timezone.now() - timedelta(hours=1) + timedelta(days=n))
    client = client_for(lead)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("shifts:index")).status_code == 200
