"""A lead changes a member's role and removes a member, recorded like additions.

Before, the members page could only add people: a lead who made a mistake, or
whose teammate moved on, had to ask an admin.
"""

import pytest
from django.test import Client

from oncall.accounts.models import MembershipChange
from oncall.teams.models import Membership
from tests.conftest import make_user

MAPPING = [
    ("payments", "member", "oncall-payments"),
    ("payments", "lead", "oncall-payments-leads"),
]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def role_of(user, team) -> str | None:
    found = Membership.objects.filter(user=user, team=team).first()
    return found.role if found else None


def test_it_makes_a_member_a_lead_and_records_it(client_for, lead, trainee, team):
    response = client_for(lead).post(
        f"/teams/payments/members/{trainee.pk}/role/", {"role": "lead"}
    )
    assert response.status_code == 302
    assert role_of(trainee, team) == "lead"
    change = team.membership_changes.get(user=trainee)
    assert (change.action, change.role, change.source, change.actor) == (
        MembershipChange.Action.ROLE_CHANGED, "lead", MembershipChange.Source.LEAD, lead,
    )  # fmt: skip
    page = client_for(lead).get("/teams/payments/members/").content.decode()
    assert "role changed (lead)" in page


def test_it_removes_a_member_and_records_it(client_for, lead, trainee, team):
    response = client_for(lead).post(f"/teams/payments/members/{trainee.pk}/remove/")
    assert response.status_code == 302
    assert role_of(trainee, team) is None
    change = team.membership_changes.get(user=trainee)
    assert (change.action, change.role, change.actor) == ("removed", "member", lead)
    # Removed means removed: the team's pages are closed to them now.
    assert client_for(trainee).get("/teams/payments/coverage/").status_code == 404


def test_the_only_lead_stays_a_lead(client_for, lead, team):
    for url, data in (
        (f"/teams/payments/members/{lead.pk}/role/", {"role": "member"}),
        (f"/teams/payments/members/{lead.pk}/remove/", {}),
    ):
        response = client_for(lead).post(url, data)
        assert response.status_code == 400
        assert "the only lead of Payments" in response.content.decode()
        assert role_of(lead, team) == "lead"
    assert not team.membership_changes.exists()


def test_a_lead_may_step_down_when_another_leads(client_for, lead, trainee, team):
    Membership.objects.filter(user=trainee).update(role="lead")
    response = client_for(lead).post(f"/teams/payments/members/{lead.pk}/role/", {"role": "member"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert role_of(lead, team) == "member"


def test_an_unknown_role_is_explained(client_for, lead, trainee, team):
    response = client_for(lead).post(
        f"/teams/payments/members/{trainee.pk}/role/", {"role": "boss"}
    )
    assert response.status_code == 400
    assert "Choose a role: member or lead." in response.content.decode()
    assert role_of(trainee, team) == "member"


def test_a_mapped_team_is_managed_at_the_idp(client_for, lead, trainee, team, settings):
    settings.OIDC_TEAM_GROUPS = MAPPING
    page = client_for(lead).get("/teams/payments/members/").content.decode()
    assert "/remove/" not in page and "/role/" not in page
    for url, data in (
        (f"/teams/payments/members/{trainee.pk}/role/", {"role": "lead"}),
        (f"/teams/payments/members/{trainee.pk}/remove/", {}),
    ):
        response = client_for(lead).post(url, data)
        assert response.status_code == 400
        assert "follows the groups oncall-payments, oncall-payments-leads" in (
            response.content.decode()
        )
    assert role_of(trainee, team) == "member"
    assert not team.membership_changes.exists()


@pytest.mark.parametrize("who", ["trainee", "outsider"])
def test_only_the_teams_leads_change_roles(client_for, request, lead, trainee, outsider, team, who):
    user = request.getfixturevalue(who)
    for url, data in (
        (f"/teams/payments/members/{lead.pk}/role/", {"role": "member"}),
        (f"/teams/payments/members/{lead.pk}/remove/", {}),
        (f"/teams/payments/members/{trainee.pk}/remove/", {}),
    ):
        assert client_for(user).post(url, data).status_code == 404
    assert role_of(lead, team) == "lead" and role_of(trainee, team) == "member"


def test_people_not_in_the_team_and_impossible_ids_are_404(client_for, lead, outsider):
    client = client_for(lead)
    assert client.post(f"/teams/payments/members/{outsider.pk}/remove/").status_code == 404
    assert client.post(f"/teams/payments/members/{2**70}/remove/").status_code == 404
    assert client.post("/teams/platform/members/1/remove/").status_code == 404


def test_changes_take_a_post_with_its_csrf_token(lead, trainee, team):
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    assert client.get(f"/teams/payments/members/{trainee.pk}/remove/").status_code == 405
    assert client.post(f"/teams/payments/members/{trainee.pk}/remove/").status_code == 403
    assert role_of(trainee, team) == "member"


def test_the_members_page_stays_small(
    client_for, lead, team, django_user_model, django_assert_max_num_queries
):
    for i in range(15):
        Membership.objects.create(user=make_user(django_user_model, f"person{i}"), team=team)
    client = client_for(lead)
    with django_assert_max_num_queries(12):
        page = client.get("/teams/payments/members/").content.decode()
    assert page.count("/remove/") == 16
