"""Sign-in page, keep-me-signed-in, LOCAL_LOGIN, landing on a runbook, settings,
group-to-team sync and a lead adding members."""

import time

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.urls import reverse

from oncall.accounts import throttle
from oncall.accounts.groups import sync_teams
from oncall.accounts.middleware import REFRESHED
from oncall.accounts.models import MembershipChange
from oncall.runbooks.sync import sync_folders
from oncall.teams.models import Membership
from tests.conftest import PASSWORD, make_user
from tests.test_settings import manage

ALERT = "PaymentsApiHighErrorRate"


@pytest.fixture(autouse=True)
def _fresh_counters(db):
    yield
    for name in ("trainee", "staff", "lead"):
        throttle.forget(username=name)
    throttle.forget(address="127.0.0.1")


@pytest.fixture
def samples(db, team, other_team):
    assert sync_folders([django_settings.RUNBOOKS_DIR]).ok


def sign_in(client, username, **extra):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD, **extra})


# -- the sign-in page -----------------------------------------------------------------------


def test_it_says_which_runbook_is_waiting(client, db):
    response = client.get(f"/runbooks/alert/{ALERT}", follow=True)
    assert response.redirect_chain[-1][0] == f"/accounts/login/?next=/runbooks/alert/{ALERT}"
    assert f"Sign in to open the runbook for {ALERT}" in response.content.decode()


def test_after_sign_in_it_lands_on_the_runbook_not_the_alert_link(client, trainee, samples):
    response = sign_in(client, "trainee", next=f"/runbooks/alert/{ALERT}")
    assert response.status_code == 302
    assert response["Location"] == "/runbooks/payments-api/error-rate-high/"


def test_an_alert_without_one_runbook_lands_on_the_alert_link(client, trainee, samples):
    response = sign_in(client, "trainee", next="/runbooks/alert/NoSuchAlert?team=payments")
    assert response["Location"] == "/runbooks/alert/NoSuchAlert?team=payments"


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "http://evil.example/runbooks/"]
)
def test_an_off_site_next_is_ignored(client, trainee, next_url):
    response = sign_in(client, "trainee", next=next_url)
    assert response["Location"] == "/"
    client.logout()
    page = client.get(reverse("login"), {"next": next_url})
    assert "evil.example" not in page.content.decode()


def test_keep_me_signed_in_gives_a_30_day_session(client, trainee):
    sign_in(client, "trainee", keep="on")
    assert client.session.get_expire_at_browser_close() is False
    assert client.session.get_expiry_age() == 30 * 24 * 3600
    assert client.cookies["sessionid"]["max-age"] == 30 * 24 * 3600


def test_without_keep_the_session_ends_with_the_browser(client, trainee):
    sign_in(client, "trainee")
    assert client.session.get_expire_at_browser_close() is True
    assert client.cookies["sessionid"]["max-age"] == ""


def test_a_kept_session_rolls_forward_once_a_day(client, trainee):
    sign_in(client, "trainee", keep="on")
    session = client.session
    session[REFRESHED] = time.time() - 2 * 24 * 3600
    session.save()
    client.get("/profile/")
    assert client.session[REFRESHED] > time.time() - 60
    assert client.cookies["sessionid"]["max-age"] == 30 * 24 * 3600


def test_sign_out_takes_a_post_and_ends_the_session(client_for, trainee):
    client = client_for(trainee)
    confirm = client.get(reverse("logout"))
    assert "Sign out?" in confirm.content.decode()  # a GET only asks
    assert client.get("/profile/").status_code == 200
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain == [(reverse("logout"), 302)]
    assert "You are signed out" in response.content.decode()
    assert "Also sign out of" not in response.content.decode()  # no IdP session to end
    assert client.get("/profile/").status_code == 302


# -- LOCAL_LOGIN=false ----------------------------------------------------------------------


@pytest.fixture
def sso_only(settings):
    # A provider that is not running: the page must not send anyone there.
    settings.OIDC_ISSUER = "http://127.0.0.1:9"
    settings.OIDC_CLIENT_ID = "oncall"
    settings.OIDC_CLIENT_SECRET = "secret"
    settings.LOCAL_LOGIN = False


def test_without_local_login_the_password_form_is_hidden(client, sso_only):
    page = client.get(reverse("login")).content.decode()
    assert 'name="password"' not in page
    assert "Single sign-on is unavailable right now" in page
    assert "Staff break-glass sign-in" in page


def test_without_local_login_a_password_is_refused(client, trainee, sso_only):
    response = sign_in(client, "trainee")
    assert response.status_code == 200
    assert "Password sign-in is turned off here" in response.content.decode()
    assert client.get("/profile/").status_code == 302


def test_without_local_login_staff_may_break_glass(client, staff, django_user_model, sso_only):
    response = sign_in(client, "staff", break_glass="1")
    assert response.status_code == 302  # a superuser holds every permission
    client.logout()
    plain_staff = make_user(django_user_model, "ops")
    plain_staff.is_staff = True
    plain_staff.save()
    response = sign_in(client, "ops", break_glass="1")
    assert "Password sign-in is turned off here" in response.content.decode()
    plain_staff.user_permissions.add(Permission.objects.get(codename="break_glass"))
    assert sign_in(client, "ops", break_glass="1").status_code == 302
    throttle.forget(username="ops")


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LOCAL_LOGIN": "false"}, "LOCAL_LOGIN=false leaves no way to sign in"),
        ({"LOCAL_LOGIN": "perhaps"}, "LOCAL_LOGIN='perhaps' is not a boolean"),
        ({"OIDC_ISSUER": "http://idp.example.com"}, "must use https://"),
        ({"OIDC_ISSUER": "https://idp.example.com"}, "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"),
        ({"OIDC_TEAM_GROUPS": "payments"}, "OIDC_TEAM_GROUPS holds 'payments'"),
        ({"OIDC_TEAM_GROUPS": "payments:boss=g"}, "OIDC_TEAM_GROUPS holds 'payments:boss=g'"),
        (
            {
                "OIDC_ISSUER": "https://idp.example.com",
                "OIDC_CLIENT_ID": "a",
                "OIDC_CLIENT_SECRET": "b",
                "OIDC_SCOPES": "email profile",
            },
            "must include openid",
        ),
    ],
)
def test_a_wrong_sign_in_setting_stops_start_up(env, expected):
    done = manage("check", **env)
    assert done.returncode != 0
    assert expected in done.stderr


def test_team_groups_are_parsed():
    done = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.OIDC_TEAM_GROUPS)",
        OIDC_TEAM_GROUPS="payments=oncall-payments, payments:lead=oncall-payments-leads",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == (
        "[('payments', 'member', 'oncall-payments'), ('payments', 'lead', 'oncall-payments-leads')]"
    )


# -- group-to-team sync ---------------------------------------------------------------------

MAPPING = [
    ("payments", "member", "oncall-payments"),
    ("payments", "lead", "oncall-payments-leads"),
    ("platform", "member", "oncall-platform"),
    ("ghost", "member", "oncall-ghost"),
]


def test_groups_add_change_and_remove_memberships(trainee, team, other_team):
    changes = sync_teams(user=trainee, groups=["oncall-platform", "oncall-ghost"], mapping=MAPPING)
    assert {(c.team.slug, c.action) for c in changes} == {
        ("payments", "removed"),
        ("platform", "added"),
    }
    assert list(trainee.memberships.values_list("team__slug", "role")) == [("platform", "member")]
    sync_teams(user=trainee, groups=["oncall-payments-leads", "oncall-payments"], mapping=MAPPING)
    roles = dict(trainee.memberships.values_list("team__slug", "role"))
    assert roles == {"payments": "lead"}
    assert MembershipChange.objects.filter(user=trainee).count() == 4
    # Nothing changes, nothing is recorded.
    assert sync_teams(user=trainee, groups=["oncall-payments-leads"], mapping=MAPPING) == []


# -- a lead adds members --------------------------------------------------------------------


def test_a_lead_adds_someone_who_has_signed_in(client_for, lead, team, django_user_model):
    newcomer = make_user(django_user_model, "newcomer")
    client = client_for(lead)
    response = client.post("/teams/payments/members/", {"person": "NEWCOMER"})
    assert response.status_code == 302
    membership = Membership.objects.get(user=newcomer, team=team)
    assert membership.role == "member"
    change = MembershipChange.objects.get(user=newcomer)
    assert (change.source, change.actor, change.action) == ("lead", lead, "added")
    page = client.get("/teams/payments/members/").content.decode()
    assert "newcomer" in page and "by lead" in page


def test_a_lead_may_add_by_email(client_for, lead, team, django_user_model):
    make_user(django_user_model, "newcomer")
    client_for(lead).post("/teams/payments/members/", {"person": "newcomer@example.com"})
    assert Membership.objects.filter(user__username="newcomer", team=team).exists()


@pytest.mark.parametrize(
    ("person", "error"),
    [
        ("nobody", "Nobody called “nobody” has signed in to oncall yet"),
        ("trainee", "trainee is already in Payments"),
        ("", "This field is required"),
    ],
)
def test_adding_someone_unknown_or_present_is_explained(client_for, lead, trainee, person, error):
    response = client_for(lead).post("/teams/payments/members/", {"person": person})
    assert response.status_code == 400
    assert error in response.content.decode()


def test_a_mapped_team_is_managed_at_the_idp(client_for, lead, settings, django_user_model):
    settings.OIDC_TEAM_GROUPS = MAPPING
    make_user(django_user_model, "newcomer")
    response = client_for(lead).post("/teams/payments/members/", {"person": "newcomer"})
    assert response.status_code == 400
    assert "follows the groups oncall-payments, oncall-payments-leads" in response.content.decode()
    assert not Membership.objects.filter(user__username="newcomer").exists()


def test_only_the_teams_leads_see_the_members_page(client_for, trainee, outsider, staff):
    assert client_for(trainee).get("/teams/payments/members/").status_code == 404
    assert client_for(outsider).get("/teams/payments/members/").status_code == 404
    assert client_for(outsider).post("/teams/payments/members/", {"person": "x"}).status_code == 404
    assert client_for(staff).get("/teams/payments/members/").status_code == 200


def test_the_members_page_has_a_fixed_number_of_queries(
    client_for, lead, team, django_user_model, django_assert_max_num_queries
):
    client = client_for(lead)
    client.get("/teams/payments/members/")
    for i in range(15):
        user = make_user(django_user_model, f"person{i}")
        client.post("/teams/payments/members/", {"person": user.username})
    with django_assert_max_num_queries(12):
        response = client.get("/teams/payments/members/")
    assert response.content.decode().count("person1") >= 6
