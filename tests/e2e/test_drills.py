"""A drill on a phone: the trainee acknowledges and logs; the game master's view follows."""

from playwright.sync_api import expect

from oncall.drills import replay, running
from oncall.drills.record import store_scenario
from oncall.drills.steps import check_steps
from oncall.runbooks.models import Runbook


def test_trainee_works_a_drill_at_390_px_and_the_game_master_sees_it(
    live_server, browser, sign_in, lead, trainee, team
):
    Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)
    scenario = store_scenario(
        team=team,
        title="Checkout errors",
        specs=check_steps(
            [
                {
                    "kind": "fired",
                    "offset": 0,
                    "alertname": "PaymentsApiHighErrorRate",
                    "labels": {"severity": "critical", "instance": "payments-api-7f9c-" + "x" * 60},
                    "annotations": {"summary": "5xx above 5%"},
                    "runbook": "payments/errors",
                }
            ]
        ),
        hidden_notes="The deploy broke the pool.",
    )
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)
    replay.replay()

    errors = []
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    game_master = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()

    sign_in(phone, trainee, f"/drills/{drill.pk}/")
    card = phone.locator(".drill-page")
    expect(card).to_contain_text("PaymentsApiHighErrorRate")
    expect(card).to_contain_text("Runbook: Payments API errors")
    expect(phone.locator("body")).not_to_contain_text("The deploy broke the pool.")
    ack = phone.locator("button.drill-ack")
    box = ack.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844  # on the first screen
    ack.click()
    expect(phone.locator(".drill-ack-row")).to_contain_text("Acknowledged")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    sign_in(game_master, lead, f"/drills/{drill.pk}/")
    expect(game_master.locator(".drill-hidden")).to_contain_text("The deploy broke the pool.")

    phone.fill("#drill-note", "Pool exhausted after the deploy?")
    phone.check("#drill-hypothesis")
    phone.click("button:has-text('Add to the log')")
    expect(phone.locator(".drill-log")).to_contain_text("Pool exhausted after the deploy?")
    # The game master's view refreshes itself (htmx, every 5 s) with the note.
    expect(game_master.locator(".drill-log")).to_contain_text(
        "Pool exhausted after the deploy?", timeout=15_000
    )
    assert errors == []
