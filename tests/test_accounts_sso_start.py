"""What an anonymous client can make us store by starting single sign-on.

Each start keeps a state, a nonce and a PKCE verifier in a session. That
session lasts 10 minutes, not the 30 days of a signed-in one, and one address
may start only so many sign-ins a minute. The provider is a real one
(oidc-provider under Node.js, tests/oidc_provider), asked for its discovery
document as in production.
"""

import time

import pytest
from django.urls import reverse
from django.utils import timezone

from oncall.accounts.models import Session
from oncall.accounts.views import SSO_START_LIMIT
from tests.oidc_provider import Provider, configure

START = "/accounts/oidc/start/"


@pytest.fixture(scope="module")
def provider():
    with Provider(rp_urls=["http://testserver"], accounts={}) as idp:
        yield idp


@pytest.fixture
def idp(provider, settings, db):
    configure(settings, provider.issuer)
    return provider


def start(client, address: str = "192.0.2.10", **extra):
    return client.get(START, {"next": "/shifts/"}, REMOTE_ADDR=address, **extra)


def test_a_started_sign_in_keeps_its_session_10_minutes_not_30_days(client, idp):
    response = start(client)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{idp.issuer}/auth?")
    session = Session.objects.get()
    assert session.user_id is None
    assert 600 - 60 < (session.expire_date - timezone.now()).total_seconds() <= 600
    assert client.cookies["sessionid"]["max-age"] == 600


def test_one_address_may_start_only_so_many_sign_ins_a_minute(client, idp):
    for _ in range(SSO_START_LIMIT.count):
        client.cookies.clear()  # each start a new anonymous client
        assert start(client).status_code == 302
    stored = Session.objects.count()
    assert stored == SSO_START_LIMIT.count

    client.cookies.clear()
    refused = start(client)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    text = refused.content.decode()
    assert "Too many sign-ins were started from your network just now. Try again in" in text
    assert Session.objects.count() == stored  # the refusal stored nothing

    # Another address is counted apart; an IPv6 client counts by its /64.
    assert start(client, "192.0.2.11").status_code == 302
    for host in range(SSO_START_LIMIT.count):
        client.cookies.clear()
        assert start(client, f"2001:db8:1:2::{host + 1:x}").status_code == 302
    assert start(client, "2001:db8:1:2:ffff::1").status_code == 429
    assert start(client, "2001:db8:1:3::1").status_code == 302


def test_a_callback_for_a_sign_in_started_over_10_minutes_ago_is_refused(client, idp):
    start(client)
    session = client.session
    (state, flow), *_ = session["oidc_states"].items()
    flow["added_on"] = time.time() - 11 * 60
    session["oidc_states"] = {state: flow}
    session.save()
    response = client.get(reverse("sso_callback"), {"state": state, "code": "any"})
    assert response.status_code == 400
    assert "This sign-in link is not valid here" in response.content.decode()
