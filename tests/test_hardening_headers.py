"""Headers and messages from the same review: caching, Vary, probes, webhook refusals."""

from datetime import timedelta

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.utils import timezone
from django.utils.cache import get_max_age

from oncall.reminders import channels
from oncall.teams.models import Heartbeat
from tests.test_readiness_support import item, make_runbook, make_template, start


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}


def test_it_tells_caches_not_to_store_the_profile_page(client_for, trainee):
    for response in (
        client_for(trainee).get("/profile/"),
        client_for(trainee).post("/profile/", {"time_zone": "Not/AZone"}),  # errors shown
    ):
        assert "no-store" in response["Cache-Control"]
        assert get_max_age(response) == 0
        assert trainee.profile.calendar_token in response.content.decode()


def cache_control(response) -> set[str]:
    return {v.strip() for v in response.get("Cache-Control", "").split(",") if v.strip()}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/", {}),
        ("/shifts/", {}),
        ("/runbooks/", {}),
        ("/runbooks/?q=disk", {"HX-Request": "true", "HX-Target": "runbook-results"}),
        ("/runbooks/alert/NoSuchAlert", {}),  # a 404 page
        ("/teams/payments/readiness/", {}),
    ],
)
def test_it_tells_caches_not_to_store_signed_in_pages(client_for, lead, path, headers):
    response = client_for(lead).get(path, headers=headers)
    assert response["Content-Type"].startswith("text/html"), path
    assert cache_control(response) == {"private", "no-store"}, (path, response.status_code)


def test_a_view_that_says_how_to_cache_keeps_it(client_for, trainee, team):
    runbook = make_runbook(team)
    client = client_for(trainee)
    page = client.get(runbook.get_absolute_url())
    # The runbook page is kept by the browser and revalidated: no-store would
    # leave it nothing to send back, and no "Not Modified" answers.
    assert cache_control(page) == {"private", "no-cache"}
    again = client.get(runbook.get_absolute_url(), headers={"if-none-match": page["ETag"]})
    assert again.status_code == 304
    profile = client.get("/profile/")
    assert {"no-store", "no-cache", "must-revalidate", "private"} <= cache_control(profile)
    assert get_max_age(profile) == 0


def test_anonymous_and_static_answers_are_left_alone(client, client_for, trainee, db):
    assert "Cache-Control" not in client.get("/runbooks/")  # a redirect to sign in
    asset = staticfiles_storage.url("css/app.css")
    for visitor in (client, client_for(trainee)):
        response = visitor.get(asset)
        assert response.status_code == 200
        assert "no-store" not in cache_control(response)
        assert get_max_age(response) > 3600  # WhiteNoise's own, for a hashed name


@pytest.mark.parametrize(
    ("path", "target"), [("/runbooks/", "runbook-results"), ("/shifts/", "calendar")]
)
def test_it_varies_on_htmx_headers_where_a_url_answers_a_fragment_or_a_page(
    client_for, trainee, path, target
):
    client = client_for(trainee)
    page = client.get(path)
    fragment = client.get(path, headers={"HX-Request": "true", "HX-Target": target})
    assert page.status_code == fragment.status_code == 200
    assert b"<html" in page.content and b"<html" not in fragment.content
    # Each answer names the headers that chose it: the page was chosen by
    # HX-Request alone, the fragment by HX-Request and HX-Target.
    assert "hx-request" in vary(page)
    assert {"hx-request", "hx-target"} <= vary(fragment)


def test_it_varies_a_checklist_answer_on_hx_request(client_for, trainee, lead, team):
    onboarding = start(trainee, team, make_template(team, runbook=make_runbook(team)), lead)
    laptop = item(onboarding, "Laptop and VPN")
    path = f"/onboardings/{onboarding.pk}/items/{laptop.pk}/"
    fragment = client_for(trainee).post(path, {"action": "tick"}, headers={"HX-Request": "true"})
    page = client_for(trainee).post(path, {"action": "untick"})
    assert (fragment.status_code, page.status_code) == (200, 302)
    assert "hx-request" in vary(fragment) and "hx-request" in vary(page)


def test_it_does_not_vary_a_page_that_never_looks_at_htmx(client_for, trainee):
    assert "hx-request" not in vary(client_for(trainee).get("/profile/"))


@pytest.mark.parametrize("host", ["10.1.2.3:8000", "ip-10-1-2-3.internal", "[fd00::1]:8000"])
def test_it_answers_healthz_whatever_host_a_load_balancer_sends(client, db, host):
    Heartbeat.objects.create(name="beat", at=timezone.now())
    response = client.get("/healthz", headers={"Host": host})
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "no-cache" in response["Cache-Control"]
    Heartbeat.objects.filter(name="beat").update(at=timezone.now() - timedelta(hours=1))
    response = client.get("/healthz", headers={"Host": host})
    assert response.status_code == 503
    assert response.json()["failing"] == ["beat"]


def test_it_still_refuses_an_unknown_host_on_every_other_path(client, db):
    for path in ("/accounts/login/", "/healthz/", "/healthzx", "/shifts/feed/abc.ics"):
        assert client.get(path, headers={"Host": "evil.example"}).status_code == 400, path


def test_it_refuses_private_and_unknown_webhook_hosts_with_one_message(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    answers = {}
    for host in ("localhost", "no-such-host.invalid"):
        with pytest.raises(channels.PermanentError) as refused:
            channels.resolve_webhook(f"http://{host}/hook")
        answers[host] = str(refused.value).replace(host, "HOST")
    assert answers["localhost"] == answers["no-such-host.invalid"]
    assert "private" not in answers["localhost"] and "resolve" not in answers["localhost"]
    assert "not allowed" in answers["localhost"]


def test_it_says_the_same_on_the_profile_when_a_test_cannot_go(client_for, trainee, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    trainee.profile.email_enabled = False
    trainee.profile.webhook_enabled = True
    pages = []
    for url in ("http://localhost:9/hook", "http://no-such-host.invalid/hook"):
        trainee.profile.webhook_url = url
        trainee.profile.save()
        page = client_for(trainee).post("/reminders/test/", follow=True).content.decode()
        pages.append(
            page.count("is not allowed or cannot be found: webhooks go to public internet")
        )
    assert pages == [1, 1]


def test_it_keeps_calendar_tokens_out_of_the_request_log(client, lead, team, caplog):
    token = lead.profile.calendar_token
    with caplog.at_level("WARNING", logger="django.request"):
        # A lead's real token with a team slug that is wrong: a 404, logged.
        response = client.get(f"/shifts/feed/{token}/no-such-team.ics")
    assert response.status_code == 404
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Not Found: /shifts/feed/<token>/no-such-team.ics" in logged
    assert token not in logged
