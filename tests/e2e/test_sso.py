"""Single sign-on in Chromium against a real OpenID Connect provider (oidc-provider on Node.js)."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from oncall.accounts.models import Identity, MembershipChange, Session
from oncall.runbooks.sync import sync_folders
from oncall.teams.models import Membership
from tests.conftest import PASSWORD, make_user
from tests.oidc_provider import Provider, configure, idp_sign_in
from tests.stack import free_port

ALERT = "PaymentsApiHighErrorRate"
RUNBOOK = "/runbooks/payments-api/error-rate-high/"

ACCOUNTS = {
    "ada": {
        "preferred_username": "ada",
        "email": "ada@example.com",
        "email_verified": True,
        "given_name": "Ada",
        "family_name": "Lovelace",
        "groups": ["oncall-payments", "staff-all"],
    },
    "grace": {
        "preferred_username": "grace",
        "email": "grace@example.com",
        "email_verified": True,
        "given_name": "Grace",
        "family_name": "Hopper",
        "groups": ["oncall-payments-leads", "oncall-platform"],
    },
    "nameless": {"email": "nameless@example.com", "email_verified": True},
    "numbered": {"preferred_username": 42, "email": "n@example.com"},
    # Claims the local "trainee" account's username with an unverified email.
    "impostor": {
        "preferred_username": "trainee",
        "email": "trainee@example.com",
        "email_verified": False,
    },
    # Same address as the local "primary" account, and the provider vouches for it.
    "primary-at-idp": {
        "preferred_username": "p.rimary",
        "email": "primary@example.com",
        "email_verified": True,
    },
    # The local superuser's address, in capitals, vouched for by the provider.
    "admin-at-idp": {
        "preferred_username": "a.dmin",
        "email": "ADMIN@example.com",
        "email_verified": True,
    },
    # Claims that cannot be stored: a NUL (PostgreSQL), a lone surrogate (SQLite).
    "nul-name": {
        "preferred_username": "nul",
        "email": "nul@example.com",
        "email_verified": True,
        "given_name": "Ada\x00",
    },
    "surrogate-email": {
        "preferred_username": "surrogate",
        "email": "s\udfff@example.com",
        "email_verified": True,
    },
}


@pytest.fixture
def samples(transactional_db, team, other_team):
    assert sync_folders([settings.RUNBOOKS_DIR]).ok


@pytest.fixture
def idp(live_server, settings):
    provider = Provider(rp_urls=[live_server.url], accounts=ACCOUNTS)
    provider.start()
    try:
        configure(settings, provider.issuer)
        yield provider
    finally:
        provider.stop()


def users():
    return sorted(get_user_model().objects.values_list("username", flat=True))


def signed_in(page, live_server) -> bool:
    response = page.request.get(f"{live_server.url}/profile/", max_redirects=0)
    return response.status == 200


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_it_goes_from_an_alert_link_through_the_idp_to_the_runbook(
    live_server, phone, idp, samples
):
    started = time.monotonic()
    phone.goto(f"{live_server.url}/runbooks/alert/{ALERT}")
    expect(phone.locator("h1")).to_have_text(f"Sign in to open the runbook for {ALERT}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    expect(phone.locator("#sso-keep")).to_be_checked()
    phone.click("text=Sign in with Example SSO")
    idp_sign_in(phone, "ada")
    phone.wait_for_url(f"{live_server.url}{RUNBOOK}")
    elapsed = time.monotonic() - started
    expect(phone.locator("h1").first).to_contain_text("Payments API error rate high")

    ada = get_user_model().objects.get(username="ada")
    assert (ada.email, ada.first_name, ada.last_name) == ("ada@example.com", "Ada", "Lovelace")
    assert Identity.objects.get(user=ada).issuer == idp.issuer
    # Kept on this device: a 30-day cookie, not a browser-session one.
    session = next(c for c in phone.context.cookies() if c["name"] == "sessionid")
    assert session["expires"] > time.time() + 29 * 24 * 3600

    # With the session kept, the next alert link opens the runbook with no tap at all.
    phone.goto(f"{live_server.url}/runbooks/alert/{ALERT}")
    phone.wait_for_url(f"{live_server.url}{RUNBOOK}")
    print(f"alert link to runbook through one IdP sign-in: {elapsed:.2f}s")


def test_a_second_sign_in_finds_the_same_user_by_subject(live_server, browser, idp, samples):
    for _ in range(2):
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.click("text=Sign in with Example SSO")
        idp_sign_in(page, "ada")
        page.wait_for_url(f"{live_server.url}/")
        context.close()
    assert get_user_model().objects.filter(username="ada").count() == 1
    assert Identity.objects.count() == 1


def test_with_sso_only_an_alert_link_goes_straight_to_the_idp(
    live_server, page, idp, samples, settings
):
    settings.LOCAL_LOGIN = False
    page.goto(f"{live_server.url}/runbooks/alert/{ALERT}")
    assert page.url.startswith(idp.issuer)
    idp_sign_in(page, "ada")
    page.wait_for_url(f"{live_server.url}{RUNBOOK}")


def test_a_shared_device_sign_in_lasts_the_browser_session(live_server, page, idp, samples):
    page.goto(f"{live_server.url}/accounts/login/")
    page.uncheck("#sso-keep")
    page.click("text=Sign in with Example SSO")
    idp_sign_in(page, "ada")
    page.wait_for_url(f"{live_server.url}/")
    session = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    assert session["expires"] == -1  # a session cookie: gone when the browser closes
    # On the server it ends 12 hours after its last use, not 30 days.
    ends = Session.objects.get(session_key=session["value"]).expire_date
    assert ends <= timezone.now() + timedelta(hours=12)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("signature", "signature does not match"),
        ("aud", "issued for another application"),
        ("expired", "has expired"),
        ("nonce", "nonce is not the one this browser sent"),
        ("issuer", "issued by another provider"),
    ],
)
def test_a_tampered_id_token_is_refused_and_creates_nothing(
    live_server, page, idp, samples, mode, reason
):
    before = users()
    idp.tamper(mode)
    page.goto(f"{live_server.url}/accounts/login/?next=/runbooks/alert/{ALERT}")
    page.click("text=Sign in with Example SSO")
    idp_sign_in(page, "ada")
    page.wait_for_url(f"{live_server.url}/accounts/oidc/callback/**")
    expect(page.locator("h1")).to_have_text("Sign-in failed")
    expect(page.locator("[role=alert]")).to_contain_text(reason)
    assert users() == before
    assert not Identity.objects.exists()
    assert not signed_in(page, live_server)


def test_a_replayed_callback_is_refused(live_server, page, idp, samples):
    callbacks = []
    page.on(
        "request",
        lambda r: callbacks.append(r.url) if "/accounts/oidc/callback/" in r.url else None,
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("text=Sign in with Example SSO")
    idp_sign_in(page, "ada")
    page.wait_for_url(f"{live_server.url}/")
    page.context.clear_cookies()  # an attacker's browser, or the same one signed out
    response = page.goto(callbacks[0])
    assert response.status == 400
    expect(page.locator("[role=alert]")).to_contain_text("not valid here")
    assert not signed_in(page, live_server)


def test_a_missing_username_claim_is_named_and_nobody_is_made(live_server, page, idp, samples):
    before = users()
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("text=Sign in with Example SSO")
    idp_sign_in(page, "nameless")
    expect(page.locator("[role=alert]")).to_contain_text(
        "“preferred_username” claim: it is missing"
    )
    assert users() == before


def test_a_claim_of_the_wrong_type_is_named(live_server, page, idp, samples):
    before = users()
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("text=Sign in with Example SSO")
    idp_sign_in(page, "numbered")
    expect(page.locator("[role=alert]")).to_contain_text(
        "“preferred_username” claim: it is a number, not text"
    )
    assert users() == before


def test_an_unverified_email_does_not_take_over_a_local_account(
    live_server, page, idp, samples, trainee
):
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("text=Sign in with Example SSO")
    idp_sign_in(page, "impostor")
    expect(page.locator("[role=alert]")).to_contain_text(
        "An account named “trainee” already exists"
    )
    assert not Identity.objects.exists()
    assert not signed_in(page, live_server)


def test_a_verified_email_links_an_existing_account_without_a_password(
    live_server, page, idp, samples, primary
):
    primary.set_unusable_password()  # made by a lead or an import, never signed in here
    primary.save()
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("text=Sign in with Example SSO")
    idp_sign_in(page, "primary-at-idp")
    page.wait_for_url(f"{live_server.url}/")
    assert Identity.objects.get().user == primary
    assert not get_user_model().objects.filter(username="p.rimary").exists()


def test_a_verified_email_never_signs_in_as_the_superuser_until_an_admin_links_it(
    live_server, browser, page, idp, samples, staff
):
    admin = get_user_model().objects.create_superuser(
        "admin", "admin@example.com", "a-long-admin-password"
    )
    page.goto(f"{live_server.url}/accounts/login/?next=/admin/")
    page.click("text=Sign in with Example SSO")
    idp_sign_in(page, "admin-at-idp")
    page.wait_for_url(f"{live_server.url}/accounts/oidc/callback/**")
    expect(page.locator("h1")).to_have_text("Sign-in failed")
    expect(page.locator("[role=alert]")).to_contain_text(
        "never links such an account to a Example SSO sign-in by email address"
    )
    subject = page.locator(".identity-details dd").nth(1).inner_text()
    assert subject == "admin-at-idp"
    assert not Identity.objects.exists()
    assert not signed_in(page, live_server)
    assert page.request.get(f"{live_server.url}/admin/", max_redirects=0).status == 302

    # Staff link the identity on the admin's page in the admin, by hand.
    context = browser.new_context()
    staff_page = context.new_page()
    staff_page.goto(f"{live_server.url}/accounts/login/?next=/admin/auth/user/{admin.pk}/change/")
    password_form = staff_page.locator(
        "form[method=post]", has=staff_page.locator("[name=password]")
    )
    password_form.locator("[name=username]").fill(staff.username)
    password_form.locator("[name=password]").fill(PASSWORD)
    password_form.locator("button[type=submit]").click()
    staff_page.wait_for_url(f"{live_server.url}/admin/auth/user/{admin.pk}/change/")
    staff_page.click("text=Add another identity")
    row = staff_page.locator(".dynamic-identities").last
    expect(row.locator("input[name$='-issuer']")).to_have_value(idp.issuer)
    row.locator("input[name$='-subject']").fill(subject)
    staff_page.click("input[name=_save]")
    expect(staff_page.locator(".messagelist")).to_contain_text("was changed successfully")
    context.close()
    assert Identity.objects.get().user == admin

    page.goto(f"{live_server.url}/accounts/login/?next=/admin/")
    page.click("text=Sign in with Example SSO")
    page.wait_for_url(f"{live_server.url}/admin/")  # still signed in at the provider
    expect(page.locator("#user-tools")).to_contain_text("admin")


@pytest.mark.parametrize(
    ("login", "claim"), [("nul-name", "given_name"), ("surrogate-email", "email")]
)
def test_a_claim_that_cannot_be_stored_is_named_and_nobody_is_made(
    live_server, page, idp, samples, login, claim
):
    before = users()
    responses = []
    page.on("response", lambda r: responses.append(r) if "/oidc/callback/" in r.url else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("text=Sign in with Example SSO")
    idp_sign_in(page, login)
    expect(page.locator("[role=alert]")).to_contain_text(
        f"“{claim}” claim: it holds characters that cannot be stored"
    )
    assert [r.status for r in responses] == [403]  # refused, never a 500
    assert users() == before
    assert not Identity.objects.exists()


def test_groups_map_to_teams_on_every_sign_in(live_server, browser, idp, samples, team, settings):
    settings.OIDC_TEAM_GROUPS = [
        ("payments", "member", "oncall-payments"),
        ("payments", "lead", "oncall-payments-leads"),
        ("platform", "member", "oncall-platform"),
    ]
    stale = make_user(get_user_model(), "grace")
    Identity.objects.create(user=stale, issuer=idp.issuer, subject="grace")
    Membership.objects.create(user=stale, team=team, role=Membership.Role.MEMBER)

    # A member lands on their onboarding, a lead on the team's readiness.
    for login, home in (("ada", "/"), ("grace", "/teams/payments/readiness/")):
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.click("text=Sign in with Example SSO")
        idp_sign_in(page, login)
        page.wait_for_url(f"{live_server.url}{home}")
        context.close()

    roles = dict(Membership.objects.values_list("user__username", "role").filter(team=team))
    assert roles["ada"] == "member"
    assert roles["grace"] == "lead"
    assert Membership.objects.get(user=stale, team__slug="platform").role == "member"
    changes = {
        (c.user.username, c.team.slug, c.action, c.role)
        for c in MembershipChange.objects.select_related("user", "team")
    }
    assert changes == {
        ("ada", "payments", "added", "member"),
        ("grace", "payments", "role_changed", "lead"),
        ("grace", "platform", "added", "member"),
    }


def test_a_rotated_key_is_picked_up(live_server, browser, samples, settings):
    """The provider restarts with a new signing key on the same issuer: the
    cached key set no longer holds it, and the next sign-in fetches it."""
    port = free_port()
    for _ in range(2):
        with Provider(rp_urls=[live_server.url], accounts=ACCOUNTS, port=port) as provider:
            configure(settings, provider.issuer)
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{live_server.url}/accounts/login/")
            page.click("text=Sign in with Example SSO")
            idp_sign_in(page, "ada")
            page.wait_for_url(f"{live_server.url}/")
            context.close()
    assert Identity.objects.count() == 1


def test_with_the_idp_down_the_page_says_so_and_offers_the_password(
    live_server, page, samples, trainee, settings
):
    configure(settings, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    page.goto(f"{live_server.url}/runbooks/alert/{ALERT}")
    expect(page.locator(".sso-down")).to_contain_text("Single sign-on is unavailable right now")
    page.fill("input[name=username]", "trainee")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{RUNBOOK}")


def test_sign_out_links_to_the_idps_end_session(live_server, page, idp, samples):
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("text=Sign in with Example SSO")
    idp_sign_in(page, "ada")
    page.wait_for_url(f"{live_server.url}/")
    page.click(".user-menu summary")
    page.click("text=Sign out")
    expect(page.locator("h1")).to_have_text("You are signed out")
    link = page.locator("text=Also sign out of Example SSO")
    assert link.get_attribute("href").startswith(f"{idp.issuer}/session/end?")
    link.click()
    # oidc-provider asks to confirm, then returns to our sign-in page.
    page.click("button[autofocus], button[type=submit]")
    page.wait_for_url(f"{live_server.url}/accounts/login/**")
    assert not signed_in(page, live_server)
