"""Reminders in Chromium: send a test from the profile, then find it in my reminders."""

import pytest
from playwright.sync_api import expect

from oncall.celery import app as celery_app


@pytest.fixture
def worker_inline():
    # The dispatch task runs inside the request, as a worker would run it a
    # moment later; nothing is left in a broker queue.
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_it_sends_a_test_and_lists_it(live_server, page, sign_in, trainee, worker_inline):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, trainee, "/profile/")
    page.get_by_role("button", name="Send a test").click()
    expect(page.locator(".messages")).to_contain_text("A test is on its way by email")

    page.get_by_role("link", name="My reminders: planned and recently sent").click()
    assert page.url == f"{live_server.url}/reminders/"
    recent = page.locator("section", has=page.get_by_role("heading", name="Recent"))
    expect(recent).to_contain_text("Test reminder from oncall")
    expect(recent.locator(".badge")).to_have_text("sent")
    assert errors == [], errors


def test_it_keeps_enter_in_the_settings_form_for_saving(live_server, page, sign_in, trainee):
    sign_in(page, trainee, "/profile/")
    page.get_by_label("Remind me before a shift").fill("2h, 15m")
    page.get_by_label("Remind me before a shift").press("Enter")
    expect(page.locator(".messages")).to_contain_text("Your settings are saved.")
    trainee.profile.refresh_from_db()
    assert trainee.profile.lead_times == [120, 15]


def test_it_reads_on_a_phone(live_server, phone, sign_in, trainee):
    sign_in(phone, trainee, "/reminders/")
    expect(phone.get_by_role("heading", name="My reminders")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
