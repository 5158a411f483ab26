"""A live page on a phone: from the page's link to "Acknowledged", counting the taps.

The link a live page sends (email, chat) is the response page itself. Signed
out, it leads through the sign-in form and back to the page, where one tap
acknowledges; with a kept session the Acknowledge button is on the first
screen with no tap at all. The primary then compares and marks on the shift page.
"""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from oncall.alerts.models import AlertOccurrence
from oncall.drills.models import Response
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from tests.conftest import PASSWORD
from tests.e2e.shots import shots_folder

SHOTS = shots_folder()
PHONE = {"width": 390, "height": 844}


def live_page(team, shift, minutes, runbook=None):
    at = shift.starts_at + timedelta(minutes=minutes)
    return AlertOccurrence.objects.create(
        fingerprint=f"e2e-{minutes}",
        starts_at=at,
        status=AlertOccurrence.Status.FIRING,
        team=team,
        alertname="PaymentsApiHighErrorRate",
        alert_key="paymentsapihigherrorrate",
        labels={
            "alertname": "PaymentsApiHighErrorRate",
            "severity": "critical",
            "instance": "payments-api-7f9c-" + "x" * 60,
        },
        annotations={"summary": "5xx above 5% on payments-api"},
        runbook=runbook,
    )


def on_first_screen(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] + box["height"] <= PHONE["height"]


def test_from_the_live_page_link_to_acknowledged_in_one_tap_after_sign_in(
    live_server, browser, sign_in, team, trainee, primary
):
    runbook = Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)
    now = timezone.now()
    shift = ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=7),
    )
    first = live_page(team, shift, 30, runbook)
    second = live_page(team, shift, 50, runbook)
    errors = []
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone = context.new_page()
    phone.set_default_timeout(10_000)
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    taps = 0

    # Signed out: the link goes through the sign-in form and lands on the page.
    phone.goto(f"{live_server.url}/shifts/{shift.pk}/pages/{first.pk}/")
    phone.fill("input[name=username]", trainee.username)
    phone.fill("input[name=password]", PASSWORD)
    phone.click("button[type=submit]")
    expect(phone).to_have_url(f"{live_server.url}/shifts/{shift.pk}/pages/{first.pk}/")
    expect(phone.locator("h1")).to_have_text("Live page: PaymentsApiHighErrorRate")
    expect(phone.locator(".drill-practice")).to_contain_text(
        "does not acknowledge or silence anything in Alertmanager"
    )
    ack = phone.locator("button.drill-ack")
    assert on_first_screen(ack)
    ack.tap()
    taps += 1
    expect(phone.locator(".drill-ack-row")).to_contain_text("Acknowledged")
    assert taps == 1
    assert Response.objects.get(occurrence=first).acknowledged_at is not None
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=str(SHOTS / "live-response-390.png"))

    # A kept session: the next page's link shows its Acknowledge button at once.
    phone.goto(f"{live_server.url}/shifts/{shift.pk}/pages/{second.pk}/")
    ack = phone.locator("button.drill-ack")
    expect(ack).to_be_visible()
    assert on_first_screen(ack)  # 0 taps before it
    phone.screenshot(path=str(SHOTS / "live-response-kept-session-390.png"))

    # The runbook opened from the console is in the timeline when the trainee comes back.
    phone.goto(f"{live_server.url}/shifts/{shift.pk}/pages/{first.pk}/")
    phone.locator(".drill-page a", has_text="Runbook: Payments API errors").tap()
    expect(phone.locator(".drill-opened-bar")).to_contain_text("Back to the console")
    phone.locator(".drill-opened-bar a").tap()
    expect(phone.locator(".drill-log")).to_contain_text("Opened the runbook Payments API errors")
    context.close()

    # The primary compares on the shift page and marks the response.
    desk = browser.new_context(viewport=PHONE, is_mobile=True).new_page()
    sign_in(desk, primary, f"/shifts/{shift.pk}/")
    row = desk.locator(f"#page-{first.pk}")
    expect(row).to_contain_text("Opened the runbook Payments API errors")
    row.locator("textarea[name=text]").fill("Rolled back the 14:00 deploy.")
    row.locator("input[value=handled_well]").check()
    row.locator("button[type=submit]").click()
    expect(desk.locator(f"#page-{first.pk}")).to_contain_text("handled well")
    assert desk.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    desk.locator("#pages-compared").screenshot(path=str(SHOTS / "live-debrief-390.png"))
    assert Response.objects.get(occurrence=first).mark == "handled_well"
    assert errors == []
