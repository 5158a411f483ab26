"""In Chromium, on a desk and on a phone: a lead records a scenario from the
team's history, runs it for the trainee now, the trainee acknowledges the page,
and the lead grades the drill pass, which the trainee's readiness counts."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from oncall.alerts.models import AlertOccurrence
from oncall.drills import replay
from oncall.drills.models import Drill, Scenario
from oncall.readiness import practice
from oncall.runbooks.models import Runbook
from tests.e2e.shots import shots_folder

SHOTS = shots_folder()

SIZES = {"desk": (1280, 800), "phone": (390, 844)}


def last_night(team) -> AlertOccurrence:
    """A real page of the team an hour ago, with its runbook."""
    runbook = Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)
    fired = timezone.now() - timedelta(hours=1)
    return AlertOccurrence.objects.create(
        team=team,
        fingerprint="a1b2c3",
        starts_at=fired,
        ends_at=fired + timedelta(minutes=25),
        received_at=fired,
        status=AlertOccurrence.Status.RESOLVED,
        alertname="PaymentsApiHighErrorRate",
        alert_key="paymentsapihigherrorrate",
        labels={"alertname": "PaymentsApiHighErrorRate", "severity": "critical"},
        annotations={"summary": "5xx above 5% on checkout"},
        runbook=runbook,
    )


def context_of(browser, size: str):
    width, height = SIZES[size]
    return browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=size == "phone"
    )


def no_sideways_scroll(page, size: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size][0]


def shot(page, name: str, size: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header where it belongs
    page.screenshot(path=str(SHOTS / f"drill-{name}-{size}.png"), full_page=True)


@pytest.mark.parametrize("size", list(SIZES))
def test_a_recorded_scenario_is_run_acknowledged_and_graded_pass(
    live_server, browser, sign_in, team, lead, trainee, size
):
    occurrence = last_night(team)
    errors: list[str] = []
    gm = context_of(browser, size).new_page()
    gm.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # The lead records last night's page as a scenario.
    sign_in(gm, lead, f"/teams/{team.slug}/scenarios/record/")
    gm.get_by_role("button", name="Show the alerts").click()
    gm.wait_for_load_state("load")
    gm.check(f"#occ-{occurrence.pk}")
    gm.fill("input[name=title]", "Checkout errors after the deploy")
    gm.fill("textarea[name=brief]", "Payments pages you at night. Find out why.")
    gm.fill("textarea[name=hidden_notes]", "The deploy shrank the connection pool.")
    gm.fill("textarea[name=root_cause]", "Pool size set to 2 by the deploy.")
    shot(gm, "record", size)
    no_sideways_scroll(gm, size)
    gm.get_by_role("button", name="Save the scenario").click()
    gm.wait_for_load_state("load")
    expect(gm.locator("body")).to_contain_text("Scenario saved.")
    scenario = Scenario.objects.get(team=team)
    assert gm.url.endswith(scenario.get_absolute_url())
    expect(gm.locator("body")).to_contain_text("PaymentsApiHighErrorRate")

    # Schedules a drill of it for the trainee, now (no start time).
    gm.select_option("select[name=trainee]", str(trainee.pk))
    no_sideways_scroll(gm, size)
    shot(gm, "scenario", size)
    gm.get_by_role("button", name="Schedule").click()
    gm.wait_for_load_state("load")
    drill = Drill.objects.get(scenario=scenario)
    assert drill.state == Drill.State.RUNNING
    assert gm.url.endswith(drill.get_absolute_url())

    # The beat's replay tick plays the page.
    replay.replay()

    # The trainee's console shows it; the trainee acknowledges.
    phone = context_of(browser, size).new_page()
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(phone, trainee, drill.get_absolute_url())
    card = phone.locator(".drill-page")
    expect(card).to_contain_text("PaymentsApiHighErrorRate")
    expect(card).to_contain_text("Payments API errors")
    expect(phone.locator("body")).not_to_contain_text("The deploy shrank the connection pool.")
    no_sideways_scroll(phone, size)
    shot(phone, "console-trainee", size)
    phone.locator("button.drill-ack").click()
    expect(phone.locator(".drill-ack-row")).to_contain_text("Acknowledged")

    # The lead sees it, ends the drill and grades it pass.
    gm.reload()
    expect(gm.locator(".drill-hidden")).to_contain_text("The deploy shrank the connection pool.")
    expect(gm.locator("body")).to_contain_text("Acknowledged")
    shot(gm, "console-game-master", size)
    gm.get_by_role("button", name="End the drill").click()
    gm.get_by_role("button", name="Grade").wait_for()
    gm.check("input[name=result][value=pass]")
    gm.check("#drill-root-cause")
    gm.get_by_role("button", name="Grade").click()
    expect(gm.locator(".drill-status")).to_contain_text("pass")
    no_sideways_scroll(gm, size)
    shot(gm, "graded", size)

    drill.refresh_from_db()
    assert (drill.state, drill.grade, drill.graded_by) == (Drill.State.GRADED, "pass", lead)
    assert practice.drill_record(team.pk, trainee.pk).passed == 1
    assert errors == []
