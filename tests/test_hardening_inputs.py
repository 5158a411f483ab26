"""Every input that reaches the database is range-checked: form errors or 404, never 500.

Also: names with control characters are refused where they are typed (admin),
and a name stored with them before does not break calendar feeds.
"""

import re
from datetime import timedelta

import pytest
import vobject
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team
from tests.conftest import make_user

HUGE = "999999999999999999999"  # past 64 bits: SQLite raises OverflowError on it


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def finished(team, trainee, primary):
    now = timezone.now()
    return ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=now - timedelta(hours=9),
        ends_at=now - timedelta(hours=1),
    )


@pytest.fixture
def runbook(team):
    return Runbook.objects.create(slug="payments/api-down", title="API down", team=team)


# --- the debrief form -----------------------------------------------------------


@pytest.mark.parametrize("value", [HUGE, f"-{HUGE}", "9223372036854775808"])
def test_it_answers_a_debrief_naming_a_runbook_id_past_64_bits_with_a_form_error(
    client_for, trainee, finished, runbook, value
):
    response = client_for(trainee).post(
        reverse("shifts:debrief", args=[finished.pk]), {"pages_seen": "two", "runbooks": [value]}
    )
    assert response.status_code == 422
    assert "is not a valid value" in response.content.decode()
    finished.refresh_from_db()
    assert finished.debriefed_at is None


def test_it_still_saves_a_debrief_naming_a_real_runbook(client_for, trainee, finished, runbook):
    response = client_for(trainee).post(
        reverse("shifts:debrief", args=[finished.pk]),
        {"pages_seen": "two", "runbooks": [str(runbook.pk)]},
    )
    assert response.status_code == 302
    assert list(finished.debrief_runbooks.all()) == [runbook]


def test_it_refuses_a_debrief_answer_longer_than_a_page(client_for, trainee, finished):
    response = client_for(trainee).post(
        reverse("shifts:debrief", args=[finished.pk]), {"pages_seen": "x" * 10_001}
    )
    assert response.status_code == 422
    assert "at most 10000 characters" in response.content.decode().replace(",", "")


# --- integers in URLs -----------------------------------------------------------


def int_routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and "<int:" in str(p.pattern):
                yield prefix + str(p.pattern)

    return sorted(set(walk(get_resolver().url_patterns)))


@pytest.mark.parametrize("route", int_routes())
def test_it_answers_an_id_past_64_bits_in_any_url_with_404(client_for, staff, route):
    path = "/" + re.sub(r"<int:\w+>", HUGE, route)
    client = client_for(staff)
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code in (404, 405), f"{method.__name__.upper()} {path}"


# --- the admin ------------------------------------------------------------------


def test_it_refuses_a_user_name_with_a_line_break_in_admin(client_for, staff, trainee):
    response = client_for(staff).post(
        reverse("admin:auth_user_change", args=[trainee.pk]),
        {
            "username": trainee.username,
            "first_name": "Eve\r\nBcc: all@example.com",
            "last_name": "Tab\tbed",
            "email": trainee.email,
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 200  # the form again, with errors
    errors = response.context["adminform"].form.errors
    assert "control characters" in errors["first_name"][0]
    assert "control characters" in errors["last_name"][0]
    trainee.refresh_from_db()
    assert trainee.first_name == ""


def test_it_refuses_a_group_id_past_64_bits_in_the_user_admin(client_for, staff, trainee):
    Group.objects.create(name="leads")
    response = client_for(staff).post(
        reverse("admin:auth_user_change", args=[trainee.pk]),
        {
            "username": trainee.username,
            "email": trainee.email,
            "is_active": "on",
            "groups": [HUGE],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert "is not a valid value" in str(response.context["adminform"].form.errors["groups"])


def test_it_saves_an_ordinary_name_in_the_user_admin(client_for, staff, trainee):
    url = reverse("admin:auth_user_change", args=[trainee.pk])
    client = client_for(staff)
    # The page's inline formsets (sign-in identities …) as the browser sends them back.
    management = {
        f"{formset.formset.prefix}-{name}": value
        for formset in client.get(url).context["inline_admin_formsets"]
        for name, value in formset.formset.management_form.initial.items()
    }
    response = client.post(
        url,
        {
            **management,
            "username": trainee.username,
            "first_name": "Zoë",
            "last_name": "O'Brien-Saitō",
            "email": trainee.email,
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    trainee.refresh_from_db()
    assert trainee.get_full_name() == "Zoë O'Brien-Saitō"


def test_it_refuses_a_team_name_with_a_line_break_in_admin(client_for, staff):
    response = client_for(staff).post(
        reverse("admin:teams_team_add"),
        {
            "name": "Payments\nX-Injected: 1",
            "slug": "payments-2",
            "time_zone": "UTC",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "control characters" in str(response.context["adminform"].form.errors["name"])
    assert not Team.objects.filter(slug="payments-2").exists()


# --- names stored before they were checked ---------------------------------------


def test_it_serves_the_feed_of_a_person_whose_stored_name_has_a_line_break(
    client, team, trainee, primary
):
    type(trainee).objects.filter(pk=trainee.pk).update(
        first_name="Eve\r\nX-Injected: 1", last_name="Ng\x1b"
    )
    Team.objects.filter(pk=team.pk).update(name="Payments\rOps")
    soon = timezone.now() + timedelta(days=1)
    shift = ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=soon,
        ends_at=soon + timedelta(hours=8),
    )
    trainee.refresh_from_db()

    response = client.get(reverse("shifts:feed", args=[trainee.profile.calendar_token]))

    assert response.status_code == 200
    calendar = vobject.readOne(response.content.decode())
    assert calendar.contents["x-wr-calname"][0].value == "Shadow shifts of Eve X-Injected: 1 Ng"
    (event,) = calendar.vevent_list
    assert event.uid.value == f"shift-{shift.uid}@oncall"
    assert event.summary.value == "Shadow shift: Eve X-Injected: 1 Ng shadows primary"
    assert "Team: Payments Ops" in event.description.value
    assert "x-injected" not in {key.lower() for key in event.contents}


def test_it_serves_the_team_feed_of_a_team_whose_stored_name_has_a_line_break(client, team, lead):
    Team.objects.filter(pk=team.pk).update(name="Pay\r\nments")
    response = client.get(
        reverse("shifts:feed_team", args=[lead.profile.calendar_token, team.slug])
    )
    assert response.status_code == 200
    calendar = vobject.readOne(response.content.decode())
    assert calendar.contents["x-wr-calname"][0].value == "Shadow shifts of Pay ments"


def test_it_lets_ordinary_names_through_unchanged(client, team, django_user_model, primary):
    person = make_user(django_user_model, "person")
    person.first_name, person.last_name = "Zoë", "Saitō"
    person.save()
    Membership.objects.create(user=person, team=team)
    soon = timezone.now() + timedelta(days=1)
    ShadowShift.objects.create(
        team=team,
        trainee=person,
        primary=primary,
        starts_at=soon,
        ends_at=soon + timedelta(hours=8),
    )
    body = client.get(reverse("shifts:feed", args=[person.profile.calendar_token])).content
    (event,) = vobject.readOne(body.decode()).vevent_list
    assert event.summary.value == "Shadow shift: Zoë Saitō shadows primary"
