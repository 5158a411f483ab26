"""Sessions read with their user in one statement, and every check Django makes still made."""

from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

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
