"""Reminders, webhooks and calendar feeds in each recipient's language, in one run,
through a real SMTP server and a real HTTP receiver on loopback."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from oncall.reminders.dispatch import dispatch_due
from oncall.reminders.models import Reminder
from oncall.reminders.plan import plan_reminders
from oncall.shifts.models import ShadowShift
from tests.test_reminders_peers import (  # noqa: F401 - fixtures
    smtp_sink_fixture,
    webhook_receiver_fixture,
)

TOKYO = ZoneInfo("Asia/Tokyo")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def shift(team, trainee, primary, webhook_receiver):
    # The trainee reads Japanese, the primary English; both take email and webhook.
    for person, language in ((trainee, "ja"), (primary, "en")):
        person.profile.language = language
        person.profile.webhook_enabled = True
        person.profile.webhook_url = webhook_receiver.url
        person.profile.lead_times = [24 * 60]
        person.profile.save()
    starts = datetime(2026, 3, 10, 10, 0, tzinfo=TOKYO)  # a Tuesday
    set_at = starts - timedelta(days=3)
    return ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=starts,
        ends_at=starts + timedelta(hours=8),
        time_zone="Asia/Tokyo",
        created_at=set_at,
        updated_at=set_at,
    )


def test_each_recipient_gets_email_and_webhook_in_their_language(
    shift, smtp_sink, webhook_receiver
):
    plan_reminders(now=shift.created_at)
    result = dispatch_due(now=datetime(2026, 3, 9, 1, 0, tzinfo=UTC))
    assert result.sent == 4
    assert Reminder.objects.filter(state=Reminder.State.SENT).count() == 4

    mail = {m["To"]: m for m in smtp_sink.messages}
    ja, en = mail["trainee@example.com"], mail["primary@example.com"]
    assert ja["Subject"] == "24 時間後: primary とのシャドーシフト(3月10日(火) 10:00 JST)"
    ja_text = ja.get_body(("plain",)).get_content()
    assert "trainee さん" in ja_text
    assert "開始: 3月10日(火) 10:00 JST" in ja_text
    assert "oncall のリマインダーです" in ja_text
    assert "oncall で開く" in ja.get_body(("html",)).get_content()

    assert (
        en["Subject"]
        == "Shadow shift with trainee (you are primary) in 24 hours (Tue 10 Mar 10:00 JST)"
    )
    en_text = en.get_body(("plain",)).get_content()
    assert "Hello primary," in en_text and "Starts: Tue 10 Mar 10:00 JST" in en_text
    assert not JAPANESE.search(en_text + en["Subject"])

    hooks = {r["json"]["recipient"]: r["json"] for r in webhook_receiver.requests}
    assert "シャドーシフト" in hooks["trainee"]["text"]
    assert "|oncall で開く>" in hooks["trainee"]["text"]
    assert "|Open in oncall>" in hooks["primary"]["text"]
    assert not JAPANESE.search(hooks["primary"]["text"])


def test_a_changed_language_rewrites_the_pending_reminders(shift, trainee):
    plan_reminders(now=shift.created_at)
    pending = Reminder.objects.get(recipient=trainee, channel="email")
    assert JAPANESE.search(pending.subject)
    trainee.profile.language = "en"
    trainee.profile.save(update_fields=["language"])
    plan_reminders(now=shift.created_at + timedelta(minutes=1))
    pending.refresh_from_db()
    assert pending.subject.startswith("Shadow shift with primary in 24 hours")


@pytest.fixture
def soon(shift):
    # The feeds show the shifts around today.
    starts = timezone.now() + timedelta(days=2)
    ShadowShift.objects.filter(pk=shift.pk).update(
        starts_at=starts, ends_at=starts + timedelta(hours=8)
    )
    return shift


def test_the_calendar_feed_speaks_its_owners_language(soon, trainee, primary):
    client = Client()
    ja = client.get(f"/shifts/feed/{trainee.profile.calendar_token}.ics").content.decode()
    en = client.get(
        f"/shifts/feed/{primary.profile.calendar_token}.ics", HTTP_ACCEPT_LANGUAGE="ja"
    ).content.decode()
    unfolded_ja = ja.replace("\r\n ", "")
    assert "SUMMARY:シャドーシフト: trainee が primary にシャドーで同行" in unfolded_ja
    assert "トレーニー: trainee" in unfolded_ja
    assert "SUMMARY:Shadow shift: trainee shadows primary" in en
    assert not JAPANESE.search(en)


def test_a_feed_owner_without_a_language_gets_what_the_calendar_app_asks(soon, trainee):
    trainee.profile.language = ""
    trainee.profile.save(update_fields=["language"])
    path = f"/shifts/feed/{trainee.profile.calendar_token}.ics"
    assert "SUMMARY:Shadow shift:" in Client().get(path).content.decode()
    asked = Client().get(path, HTTP_ACCEPT_LANGUAGE="ja-JP").content.decode().replace("\r\n ", "")
    assert "SUMMARY:シャドーシフト:" in asked
