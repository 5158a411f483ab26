"""Each person's language: the profile's choice, else the browser's; a switch on every page."""

import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.translation.trans_real import parse_accept_lang_header

from oncall.teams.forms import ProfileForm
from oncall.teams.language import SESSION_KEY
from tests.conftest import make_user
from tests.html_elements import elements

PROFILE = {"time_zone": "Asia/Tokyo", "lead_times": "24h, 1h", "email_enabled": "on"}


def page_language(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def test_an_empty_language_follows_the_browser(client_for, trainee):
    client = client_for(trainee)
    assert page_language(client.get("/profile/", HTTP_ACCEPT_LANGUAGE="ja-JP,ja;q=0.9")) == "ja"
    assert page_language(client.get("/profile/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")) == "en"


def test_a_profile_language_wins_over_the_browser_at_once(client_for, trainee):
    client = client_for(trainee)
    response = client.post(
        "/profile/", {**PROFILE, "language": "ja"}, HTTP_ACCEPT_LANGUAGE="en", follow=True
    )
    assert response.redirect_chain == [("/profile/", 302)]
    assert page_language(response) == "ja"
    assert response["Content-Language"] == "ja"
    trainee.profile.refresh_from_db()
    assert trainee.profile.language == "ja"
    # Back to "as my browser asks": the header decides again.
    client.post("/profile/", {**PROFILE, "language": ""})
    assert page_language(client.get("/profile/", HTTP_ACCEPT_LANGUAGE="en")) == "en"


def queries_of(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    return len(queries)


def test_the_language_is_read_at_sign_in_without_a_query_per_page(client, trainee, primary):
    client.force_login(primary)
    without = queries_of(client, "/shifts/")
    trainee.profile.language = "ja"
    trainee.profile.save(update_fields=["language"])
    client.force_login(trainee)
    assert client.session[SESSION_KEY] == "ja"
    assert queries_of(client, "/shifts/") == without
    assert page_language(client.get("/profile/", HTTP_ACCEPT_LANGUAGE="en")) == "ja"


def test_an_unknown_language_code_is_a_field_error(client_for, trainee):
    response = client_for(trainee).post("/profile/", {**PROFILE, "language": "xx"})
    assert response.status_code == 200
    error = re.search(r'id="id_language_error"[^>]*>([^<]+)<', response.content.decode())
    assert error and "xx" in error.group(1)
    trainee.profile.refresh_from_db()
    assert trainee.profile.language == ""


def test_the_switch_signed_out_sets_the_cookie_and_the_login_page_follows(client, db):
    login = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert 'action="/language/"' in login.content.decode()
    response = client.post("/language/", {"language": "ja", "next": "/accounts/login/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.cookies["django_language"].value == "ja"
    assert page_language(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")) == "ja"


def test_the_switch_signed_in_saves_the_profile(client_for, trainee):
    client = client_for(trainee)
    client.post("/language/", {"language": "ja", "next": "/shifts/"})
    trainee.profile.refresh_from_db()
    assert trainee.profile.language == "ja"
    # Another browser of the same person, with no cookie: the profile decides.
    other = Client()
    other.force_login(trainee)
    assert page_language(other.get("/profile/", HTTP_ACCEPT_LANGUAGE="en")) == "ja"


def test_the_switch_needs_csrf(db):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/language/", {"language": "ja"}).status_code == 403


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", ""])
def test_the_switch_never_leaves_the_site(client, db, next_url):
    response = client.post("/language/", {"language": "en", "next": next_url})
    assert response["Location"] == "/"


def test_the_switch_refuses_an_unknown_language(client, db):
    response = client.post("/language/", {"language": "klingon"})
    assert response.status_code == 400
    assert "Unknown language" in response.content.decode()


@pytest.mark.parametrize(
    "header",
    [
        "!!!;;;q=x,,,\x7f",
        "x" * 8192,
        ",".join(f"l{i:02d}-x{i:02d};q=0.{i % 10}" for i in range(100)),
        "ja;q=abc",
    ],
    ids=["garbage", "8 KB", "100 languages", "bad weight"],
)
def test_a_strange_accept_language_header_gives_english(client, db, header):
    # Django reads at most 500 characters of the header: a huge one is not parsed at all.
    assert len(parse_accept_lang_header(header)) <= 100
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=header)
    assert response.status_code == 200
    assert page_language(response) == "en"


def test_the_time_zone_select_marks_only_the_chosen_zone(trainee):
    html = str(ProfileForm(instance=trainee.profile)["time_zone"])
    options = elements(html, "option")
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == ["Asia/Tokyo"]
    assert len(options) > 300
    assert 'name="time_zone"' in html and 'id="id_time_zone"' in html


def test_an_unknown_time_zone_is_a_field_error(client_for, trainee):
    response = client_for(trainee).post("/profile/", {**PROFILE, "time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    assert 'id="id_time_zone_error"' in response.content.decode()


def test_the_admin_of_our_models_speaks_the_profile_language(client, django_user_model, trainee):
    staff = make_user(django_user_model, "ops", staff=True)
    staff.profile.language = "ja"
    staff.profile.save(update_fields=["language"])
    client.force_login(staff)
    page = client.get(f"/admin/teams/profile/{trainee.profile.pk}/change/").content.decode()
    for label in (
        "プロフィール",
        "言語",
        "タイムゾーン",
        "静音時間の開始",
        "ブラウザーの言語に従います",
    ):
        assert label in page, label
    listing = client.get("/admin/shifts/shadowshift/").content.decode()
    assert "シャドーシフト" in listing


def test_an_admin_setting_their_own_language_sees_it_at_once(client, django_user_model):
    staff = make_user(django_user_model, "ops", staff=True)
    client.force_login(staff)
    profile = staff.profile
    data = {
        "user": staff.pk,
        "language": "ja",
        "time_zone": "UTC",
        "lead_times": "[]",
        "email_enabled": "on",
        "webhook_url": "",
    }
    response = client.post(f"/admin/teams/profile/{profile.pk}/change/", data, follow=True)
    assert response.status_code == 200
    profile.refresh_from_db()
    assert profile.language == "ja"
    assert page_language(client.get("/profile/", HTTP_ACCEPT_LANGUAGE="en")) == "ja"


def test_preflight_notes_a_missing_gettext_without_failing(monkeypatch, db):
    from django.core.management import call_command

    from oncall.teams.management.commands import preflight

    monkeypatch.setattr(preflight.shutil, "which", lambda name: None)
    out = io.StringIO()
    call_command("preflight", stdout=out)
    assert "GNU gettext is not installed" in out.getvalue()
