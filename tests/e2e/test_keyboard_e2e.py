"""In Chromium, by keyboard only: after an htmx swap the focus is back on the
control acted on (or what replaced it) and the change is read out; every
repeated control names its item."""

from collections import Counter

from playwright.sync_api import expect

from oncall.readiness.models import ChecklistTemplate
from tests.test_readiness_support import make_template, start


def focused(page) -> dict:
    """What has the keyboard focus: its tag, accessible text and item."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const item = el.closest('[data-focus-scope]');
            return {tag: el.tagName, text: el.textContent.trim().replace(/\\s+/g, ' '),
                    item: item ? item.id : null};
        }"""
    )


def press_on(page, locator) -> None:
    """Focus a control and press Enter on it, as a keyboard user does."""
    locator.focus()
    page.keyboard.press("Enter")


def test_marking_done_keeps_the_focus_on_the_item_and_says_so(
    live_server, page, sign_in, team, trainee, lead
):
    onboarding = start(trainee, team, make_template(team), lead)
    laptop = onboarding.items.get(title="Laptop and VPN")
    sign_in(page, trainee)

    press_on(page, page.get_by_role("button", name="Mark done “Laptop and VPN”"))
    expect(page.locator("#announcer")).to_have_text("“Laptop and VPN” marked done.")
    now = focused(page)
    # Not the body: the control that replaced "Mark done", in the same item.
    assert now["tag"] == "SUMMARY", now
    assert now["item"] == f"item-{laptop.pk}"
    assert "Laptop and VPN" in now["text"]

    # Undo, from the keyboard too: the focus lands on "Mark done" again.
    page.keyboard.press("Enter")  # opens the details
    press_on(page, page.get_by_role("button", name="Mark not done “Laptop and VPN”"))
    expect(page.locator("#announcer")).to_have_text("“Laptop and VPN” marked not done.")
    now = focused(page)
    assert now["tag"] == "BUTTON" and now["item"] == f"item-{laptop.pk}", now
    assert now["text"].startswith("Mark done")


def test_repeated_controls_name_their_item(live_server, page, sign_in, team, trainee, lead):
    onboarding = start(trainee, team, make_template(team), lead)
    for item in onboarding.items.exclude(kind__in=["shadow_shift", "reverse_shadow_shift"]):
        item.done_at, item.done_by = item.onboarding.started_at, trainee
        item.save(update_fields=["done_at", "done_by"])
    sign_in(page, trainee)
    names = page.evaluate(
        """() => [...document.querySelectorAll('#checklist button, #checklist summary, #checklist a')]
            .map(el => el.textContent.trim().replace(/\\s+/g, ' '))"""
    )
    summaries = [n for n in names if n.startswith("Undo or change the note")]
    assert len(summaries) == 3
    repeated = {name: n for name, n in Counter(names).items() if n > 1}
    # Links to the same place ("Shifts") may repeat; controls that act may not.
    assert all(not name.startswith(("Undo", "Mark", "Save")) for name in repeated), repeated


def test_moving_a_template_item_keeps_the_focus_on_its_button(
    live_server, page, sign_in, team, lead
):
    template = make_template(team)
    escalation = template.items.get(title="Escalation policy")
    sign_in(page, lead, template.get_absolute_url())

    press_on(page, page.get_by_role("button", name="Move “Escalation policy” down"))
    expect(page.locator("#announcer")).to_have_text("“Escalation policy” moved down.")
    now = focused(page)
    assert now["item"] == f"template-item-{escalation.pk}", now
    assert now["tag"] == "BUTTON"
    # Pressed again: the same button, still on the same item.
    page.keyboard.press("Enter")
    expect(page.locator("#announcer")).to_have_text("“Escalation policy” moved down.")
    assert focused(page)["item"] == f"template-item-{escalation.pk}"
    titles = list(
        ChecklistTemplate.objects.get(pk=template.pk).items.values_list("title", flat=True)
    )
    assert titles.index("Escalation policy") > titles.index("Optional reading")


def test_the_calendar_arrows_keep_the_focus(live_server, page, sign_in, team, trainee):
    sign_in(page, trainee, "/shifts/")
    heading = page.locator("#calendar-title").inner_text()
    press_on(page, page.locator("[data-focus-key=calendar-next]"))
    expect(page.locator("#calendar-title")).not_to_have_text(heading)
    expect(page.locator("#announcer")).to_contain_text(team.name)
    assert page.evaluate("document.activeElement.dataset.focusKey") == "calendar-next"
