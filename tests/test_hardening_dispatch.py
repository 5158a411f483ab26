"""Dispatch survives any row: one reminder that cannot be built or recorded
fails alone, with its reason on the reminders page; the batch goes on.

Each test plants a poisoned row first in line (dispatch takes the oldest due
rows first), then checks that everyone else's reminders still arrive through
a real SMTP server and a real HTTP receiver on loopback.
"""

import threading
from datetime import time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from oncall.reminders.dispatch import dispatch_due
from oncall.reminders.models import Reminder
from oncall.teams.models import Profile
from tests.conftest import make_user
from tests.test_reminders_peers import smtp_sink_fixture  # noqa: F401 - fixture

State = Reminder.State


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def reminder_for(user, *, key: str, due, kind=Reminder.Kind.ITEM_OVERDUE, channel="email"):
    return Reminder.objects.create(
        recipient=user,
        kind=kind,
        channel=channel,
        due_at=due,
        next_attempt_at=due,
        dedupe_key=key,
        subject=f"Reminder {key}",
        body="Body",
        link="http://127.0.0.1:8000/reminders/",
    )


@pytest.fixture
def others(django_user_model):
    """Three people whose reminders must arrive whatever happens to the poisoned one."""
    return [make_user(django_user_model, f"other{n}") for n in range(3)]


def plant_others(others, due):
    return [reminder_for(user, key=f"other:{user.pk}", due=due) for user in others]


def assert_others_delivered(rows, smtp_sink):
    for row in rows:
        row.refresh_from_db()
    assert [row.state for row in rows] == [State.SENT] * len(rows)
    assert sorted(to for to, _subject in smtp_sink.subjects()) == sorted(
        row.recipient.email for row in rows
    )


def test_it_fails_a_reminder_whose_time_zone_is_gone_and_sends_the_rest(
    django_user_model, others, smtp_sink, client_for
):
    # A tzdata upgrade drops a zone (US/Pacific-New went in 2020): the profile
    # still names it, and quiet hours can no longer be worked out for it.
    poisoned = make_user(django_user_model, "poisoned")
    Profile.objects.filter(user=poisoned).update(
        time_zone="US/Pacific-New", quiet_start=time(22), quiet_end=time(7)
    )
    now = timezone.now()
    bad = reminder_for(poisoned, key="poison", due=now - timedelta(minutes=5))
    good = plant_others(others, now - timedelta(minutes=1))

    result = dispatch_due(now=now)

    assert (result.sent, result.failed) == (3, 1)
    assert_others_delivered(good, smtp_sink)
    bad.refresh_from_db()
    assert bad.state == State.FAILED
    assert "Could not be prepared" in bad.last_error and "US/Pacific-New" in bad.last_error
    # The person sees why on their reminders page (times shown in UTC meanwhile).
    page = client_for(poisoned).get("/reminders/")
    assert page.status_code == 200
    assert "Could not be prepared" in page.content.decode()


def test_it_fails_a_reminder_whose_recipient_lost_the_profile_and_sends_the_rest(
    django_user_model, others, smtp_sink
):
    orphan = make_user(django_user_model, "orphan")
    now = timezone.now()
    bad = reminder_for(orphan, key="orphan", due=now - timedelta(minutes=5))
    Profile.objects.filter(user=orphan).delete()
    good = plant_others(others, now - timedelta(minutes=1))

    assert dispatch_due(now=now).sent == 3
    assert_others_delivered(good, smtp_sink)
    bad.refresh_from_db()
    assert bad.state == State.FAILED
    assert "Could not be prepared (RelatedObjectDoesNotExist" in bad.last_error


class NulAnswer:
    """A webhook peer answering 400 with NUL bytes in the body (PostgreSQL refuses NUL in text)."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(400)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"bad\x00request\x1b[31m")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_it_records_a_peer_answer_with_nul_bytes_and_sends_the_rest(
    django_user_model, others, smtp_sink, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    peer = NulAnswer()
    try:
        hooked = make_user(django_user_model, "hooked")
        Profile.objects.filter(user=hooked).update(webhook_enabled=True, webhook_url=peer.url)
        now = timezone.now()
        bad = reminder_for(hooked, key="nul", due=now - timedelta(minutes=5), channel="webhook")
        good = plant_others(others, now - timedelta(minutes=1))

        assert dispatch_due(now=now).sent == 3
    finally:
        peer.stop()
    assert_others_delivered(good, smtp_sink)
    bad.refresh_from_db()
    assert bad.state == State.FAILED
    assert bad.last_error == "HTTP 400: bad?request?[31m"


def test_it_sends_a_subject_carrying_a_stored_line_break_with_the_break_removed(
    django_user_model, smtp_sink
):
    # A subject built from a name stored before names were checked.
    person = make_user(django_user_model, "person")
    now = timezone.now()
    row = reminder_for(person, key="crlf", due=now)
    Reminder.objects.filter(pk=row.pk).update(subject="Shift with Eve\r\nBcc: all@example.com")

    assert dispatch_due(now=now).sent == 1
    row.refresh_from_db()
    assert row.state == State.SENT
    message = smtp_sink.messages[0]
    assert message["Subject"] == "Shift with Eve Bcc: all@example.com"
    assert message["Bcc"] is None
    assert smtp_sink.subjects() == [("person@example.com", "Shift with Eve Bcc: all@example.com")]
