"""Sessions read with their user in one statement, every check Django makes still made,
and each session ending on the server when it should."""

import time
from datetime import UTC, datetime, timedelta

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oncall.accounts.middleware import KEEP, REFRESHED
from oncall.accounts.models import Session
from oncall.accounts.sessions import SessionStore
from tests.conftest import PASSWORD


def signed_in(client, username: str) -> Session:
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return Session.objects.get(session_key=client.session.session_key)


def test_a_signed_in_page_reads_its_session_and_user_in_one_query(client, lead, team):
    signed_in(client, "lead")
    client.get("/profile/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/profile/").status_code == 200
    session_reads = [q["sql"] for q in queries if "accounts_session" in q["sql"]]
    assert len(session_reads) == 1
    assert "auth_user" in session_reads[0] and "teams_membership" in session_reads[0]
    user_reads = [q["sql"] for q in queries if 'FROM "auth_user"' in q["sql"]]
    assert user_reads == []  # the user came with the session
    # The header's "Team readiness" link: the teams the lead leads came too.
    assert (
        reverse("readiness:dashboard", args=[team.slug]) in client.get("/profile/").content.decode()
    )


def test_the_session_row_names_its_user_and_goes_with_them(client, trainee, django_user_model):
    session = signed_in(client, "trainee")
    assert session.user_id == trainee.pk
    anonymous = SessionStore()
    anonymous["note"] = "no one signed in"
    anonymous.save()
    assert Session.objects.get(session_key=anonymous.session_key).user_id is None
    trainee.delete()
    assert not Session.objects.filter(pk=session.pk).exists()
    assert Session.objects.filter(session_key=anonymous.session_key).exists()


def test_signing_out_ends_the_session(client, trainee):
    session = signed_in(client, "trainee")
    client.post(reverse("logout"))
    assert not Session.objects.filter(pk=session.pk).exists()
    assert client.get("/profile/").status_code == 302


def test_a_new_password_or_a_deactivation_still_signs_the_session_out(client, trainee):
    signed_in(client, "trainee")
    trainee.set_password("another-long-password")
    trainee.save()
    assert client.get("/profile/").status_code == 302  # Django's password-hash check
    client.post(reverse("login"), {"username": "trainee", "password": "another-long-password"})
    assert client.get("/profile/").status_code == 200
    trainee.is_active = False
    trainee.save()
    assert client.get("/profile/").status_code == 302


def test_the_user_column_never_decides_who_is_signed_in(client, trainee, lead):
    """Only the session's data does: a row whose column names someone else
    (a bug, or a hand edit) gets the user its data names."""
    session = signed_in(client, "trainee")
    Session.objects.filter(pk=session.pk).update(user=lead)
    page = client.get("/profile/")
    assert page.status_code == 200
    assert page.wsgi_request.user == trainee
    assert SessionStore(session.session_key).load()[SESSION_KEY] == str(trainee.pk)


def test_the_user_read_with_a_session_is_the_one_the_orm_reads(client, lead, django_user_model):
    session = signed_in(client, "lead")
    store = SessionStore(session.session_key)
    assert store.load()[SESSION_KEY] == str(lead.pk)
    plain, orm = store.take_user(), django_user_model.objects.get(pk=lead.pk)
    for field in django_user_model._meta.concrete_fields:
        a, b = getattr(plain, field.attname), getattr(orm, field.attname)
        assert (a, type(a)) == (b, type(b)), field.name
    assert plain.last_login.tzinfo is not None
    assert store.take_user() is None  # handed over once


def test_beat_clears_sessions_past_their_end_every_day(trainee):
    from oncall.accounts.tasks import clear_expired_sessions
    from oncall.celery import app

    live, ended = SessionStore(), SessionStore()
    live[SESSION_KEY] = str(trainee.pk)
    live.save()
    ended.set_expiry(-1)
    ended.save()
    assert clear_expired_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    schedule = app.conf.beat_schedule["accounts-clear-expired-sessions"]
    assert schedule["task"] == clear_expired_sessions.name


# -- how long a session lasts on the server ------------------------------------------------


def _row(client) -> Session:
    return Session.objects.get(session_key=client.cookies["sessionid"].value)


def _ends_in(session: Session) -> float:
    return (session.expire_date - timezone.now()).total_seconds()


def test_a_sign_in_not_kept_ends_on_the_server_12_hours_after_its_last_use(client, trainee):
    response = client.post(reverse("login"), {"username": "trainee", "password": PASSWORD})
    assert response.status_code == 302
    assert client.cookies["sessionid"]["max-age"] == ""  # ends with the browser
    assert 12 * 3600 - 60 < _ends_in(_row(client)) <= 12 * 3600


def test_a_session_not_kept_rolls_forward_while_it_is_used(client, trainee):
    client.post(reverse("login"), {"username": "trainee", "password": PASSWORD})
    signed_in_until = _row(client).expire_date
    # Within 15 minutes of the last push, a page writes nothing.
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/profile/").status_code == 200
    assert not [q for q in queries if "UPDATE" in q["sql"] and "accounts_session" in q["sql"]]
    assert _row(client).expire_date == signed_in_until
    # Used again 20 minutes after the last push: the end moves to 12 hours from now.
    session = client.session
    session[REFRESHED] = time.time() - 20 * 60
    session.save()
    Session.objects.filter(pk=session.session_key).update(
        expire_date=timezone.now() + timedelta(hours=11, minutes=40)
    )
    assert client.get("/profile/").status_code == 200
    assert 12 * 3600 - 60 < _ends_in(_row(client)) <= 12 * 3600
    assert client.cookies["sessionid"]["max-age"] == ""


def test_a_session_nobody_is_signed_in_to_lasts_10_minutes(client, trainee):
    """The signed-out page keeps the provider's sign-out link in a new anonymous session."""
    client.post(reverse("login"), {"username": "trainee", "password": PASSWORD, "keep": "on"})
    client.post(reverse("logout"))
    store = client.session
    store["provider_logout_url"] = "https://idp.example.com/end"
    store.save()
    row = Session.objects.get(session_key=store.session_key)
    assert row.user_id is None
    assert 600 - 60 < _ends_in(row) <= 600


def test_each_new_session_deletes_some_that_have_ended(trainee):
    ended = []
    for _ in range(3):
        store = SessionStore()
        store.set_expiry(-1)
        store.save()
        ended.append(store.session_key)
    live = SessionStore()
    live["note"] = "a sign-in under way"
    live.save()
    assert set(Session.objects.values_list("session_key", flat=True)) == {live.session_key}


def test_a_deactivated_account_signed_in_by_single_sign_on_is_signed_out(client, trainee):
    client.force_login(trainee, backend="oncall.accounts.oidc.Backend")
    assert client.get("/profile/").status_code == 200
    trainee.is_active = False
    trainee.save()
    assert client.get("/profile/").status_code == 302


def test_sessions_stored_before_the_upgrade_end_when_the_new_rules_say(transactional_db, trainee):
    """Migration accounts 0007: nothing stored keeps the old 30 days unless it was kept."""
    call_command("migrate", "accounts", "0006", verbosity=0)
    try:
        store, month = SessionStore(), timezone.now() + timedelta(days=30)
        signed_in = {SESSION_KEY: str(trainee.pk), BACKEND_SESSION_KEY: "x", HASH_SESSION_KEY: "x"}
        last_used = time.time() - 3600
        rows = {
            "sso-under-way": {"oidc_states": {"s": {"nonce": "n"}}},
            "not-kept": {**signed_in, KEEP: False, REFRESHED: last_used},
            "kept": {**signed_in, KEEP: True, REFRESHED: last_used},
        }
        for key, data in rows.items():
            Session.objects.create(
                session_key=key, session_data=store.encode(data), expire_date=month
            )
    finally:
        call_command("migrate", verbosity=0)
    ends = dict(Session.objects.values_list("session_key", "expire_date"))
    assert abs((ends["sso-under-way"] - timezone.now()).total_seconds() - 600) < 120
    not_kept = datetime.fromtimestamp(last_used + 12 * 3600, UTC)
    assert abs((ends["not-kept"] - not_kept).total_seconds()) < 1
    assert ends["kept"] == month
