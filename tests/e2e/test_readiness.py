"""In Chromium: the trainee ticks an item and the bar moves; the lead signs it off."""

from oncall.readiness.models import ItemProgress
from tests.test_readiness_support import make_runbook, make_template, start


def progress_value(page) -> int:
    return int(page.get_attribute("#readiness-progress", "value"))


def test_it_ticks_an_item_and_the_lead_signs_it_off(
    live_server, browser, page, sign_in, team, trainee, lead
):
    runbook = make_runbook(team, title="Payments API error rate high")
    onboarding = start(trainee, team, make_template(team, runbook=runbook), lead)

    sign_in(page, trainee)
    assert page.url == f"{live_server.url}/"
    assert progress_value(page) == 0
    # A marker that a full page load would wipe: the tick must not reload.
    page.evaluate("window.__stillHere = true")

    page.locator("li.item", has_text="Laptop and VPN").get_by_role(
        "button", name="Mark done"
    ).click()
    # htmx swaps the checklist in place; wait for the new bar.
    page.locator('#readiness-progress:not([value="0"])').wait_for()
    assert progress_value(page) == 20  # one of five required items
    assert page.evaluate("window.__stillHere === true")

    item = page.locator("li.item", has_text="Escalation policy")
    item.locator("input[name=note]").fill("Walked through it with Lena")
    item.get_by_role("button", name="Mark done").click()
    page.locator("li.item", has_text="waiting for lead’s sign-off").wait_for()
    item = page.locator("li.item", has_text="Escalation policy")
    # One state at a time: waiting, not "done" beside "needs sign-off".
    assert "done" not in item.locator("h3").inner_text().replace("Mark done", "")
    ticked = progress_value(page)
    assert ticked == 20  # an item that needs a sign-off counts once signed off

    lead_context = browser.new_context(viewport={"width": 1280, "height": 900})
    lead_page = lead_context.new_page()
    sign_in(lead_page, lead, next_path=onboarding.get_absolute_url())
    lead_item = lead_page.locator("li.item", has_text="Escalation policy")
    assert "Walked through it with Lena" in lead_item.inner_text()
    lead_item.get_by_role("button", name="Sign off").click()
    lead_page.locator("li.item", has_text="signed off by lead").wait_for()
    lead_context.close()

    escalation = ItemProgress.objects.get(onboarding=onboarding, title="Escalation policy")
    assert escalation.signed_off_by == lead

    page.reload()
    assert progress_value(page) == 40
    assert (
        "signed off by lead" in page.locator("li.item", has_text="Escalation policy").inner_text()
    )


def test_it_works_on_a_phone_without_javascript_for_the_tick(
    live_server, browser, sign_in, team, trainee, lead
):
    start(trainee, team, make_template(team), lead)
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, java_script_enabled=False
    )
    phone = context.new_page()
    sign_in(phone, trainee)
    # Nothing spills sideways at 360 px.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    item = phone.locator("li.item", has_text="Laptop and VPN")
    item.get_by_role("button", name="Mark done").click()
    phone.wait_for_load_state("load")
    assert phone.url == f"{live_server.url}/"
    assert int(phone.get_attribute("#readiness-progress", "value")) > 0
    assert "Done by trainee" in phone.locator("li.item", has_text="Laptop and VPN").inner_text()
    context.close()
