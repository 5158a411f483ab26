"""The alerts on a shift page, in Chromium: they appear while the page is open, and fit a phone."""

import json
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from oncall.alerts.sources import create_source
from oncall.shifts.models import ShadowShift

pytestmark = pytest.mark.slow


def post_alert(url: str, token: str, name: str, fingerprint: str) -> None:
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "severity": "critical"},
                "annotations": {"summary": "<b>not bold</b>"},
                "startsAt": (timezone.now() - timedelta(minutes=1)).isoformat(),
                "fingerprint": fingerprint,
            }
        ],
    }
    request = urllib.request.Request(
        f"{url}/integrations/alertmanager/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        assert response.status == 200


@pytest.fixture
def shift(team, trainee, primary):
    now = timezone.now()
    return ShadowShift.objects.create(
        team=team, trainee=trainee, primary=primary,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=3),
    )  # fmt: skip


def test_a_new_alert_appears_on_the_open_shift_page(
    live_server, page, sign_in, trainee, team, shift
):
    token = create_source(team=team, name="prod")[1]
    sign_in(page, trainee, f"/shifts/{shift.pk}/")
    card = page.locator("#shift-alerts")
    assert "No alert has fired" in card.inner_text()
    post_alert(live_server.url, token, "PaymentsApiHighErrorRate", "a1b2c3d4e5f60718")
    # htmx polls the card every 15 s; no reload.
    page.wait_for_selector("#shift-alerts >> text=PaymentsApiHighErrorRate", timeout=25_000)
    text = page.locator("#shift-alerts").inner_text()
    assert "firing" in text
    assert "no runbook" in text
    assert "<b>not bold</b>" in text  # shown as text, not markup
    assert page.locator("#shift-alerts b").count() == 0
    # The debrief, opened now, starts from the timeline.
    page.reload()
    draft = page.locator("textarea[name=pages_seen]").input_value()
    assert "PaymentsApiHighErrorRate (still firing; no runbook)" in draft


def test_the_shift_alerts_and_the_coverage_page_fit_a_phone(
    live_server, phone, sign_in, trainee, team, shift
):
    token = create_source(team=team, name="prod")[1]
    post_alert(
        live_server.url, token, "PaymentsApiHighLatencyP99SomewhatLongerName", "f000000000000001"
    )
    sign_in(phone, trainee, f"/shifts/{shift.pk}/")
    for path in (f"/shifts/{shift.pk}/", "/teams/payments/coverage/"):
        phone.goto(f"{live_server.url}{path}")
        assert "PaymentsApiHighLatencyP99SomewhatLongerName" in phone.content()
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
