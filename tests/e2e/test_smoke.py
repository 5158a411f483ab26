import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from oncall.runbooks.sync import sync_folders


def test_trainee_signs_in_and_sees_the_home_page(live_server, page, sign_in, trainee):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, trainee)
    assert page.url == f"{live_server.url}/"
    # No onboarding of their own yet: the first tab is their home, not "My onboarding".
    expect(page.locator(".site-nav")).to_contain_text("Home")
    expect(page.locator(".user-menu")).to_contain_text("trainee")
    assert errors == [], errors


def test_slash_focuses_the_search_box(live_server, page, sign_in, trainee):
    sign_in(page, trainee, "/profile/")
    page.keyboard.press("/")
    expect(page.locator("#site-search")).to_be_focused()


def test_the_header_fits_a_phone_without_cutting_a_label(live_server, browser, sign_in, lead):
    """At 390 px no header element's text overflows its box, and links are easy to tap."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, lead, "/shifts/")
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('.site-header a, .site-header button')]
             .filter((el) => el.offsetParent !== null)
             .filter((el) => el.scrollWidth > el.clientWidth + 1
                || el.getBoundingClientRect().right > window.innerWidth + 1)
             .map((el) => el.textContent.trim())"""
    )
    assert overflowing == []
    heights = page.evaluate(
        "() => [...document.querySelectorAll('.site-nav a')].map((a) => a.offsetHeight)"
    )
    assert heights and min(heights) >= 44
    labels = page.locator(".site-nav a").all_inner_texts()
    assert "Team readiness" in [label.strip() for label in labels]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


def test_copy_buttons_never_cover_code_on_a_phone(live_server, browser, sign_in, trainee, settings):
    assert sync_folders([settings.RUNBOOKS_DIR]).ok
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    sign_in(page, trainee, "/runbooks/payments-db/disk-full/")
    page.locator(".copy-button").first.wait_for()
    overlaps = page.evaluate(
        """() => [...document.querySelectorAll('.copy-button')].filter((button) => {
             const b = button.getBoundingClientRect();
             const code = button.parentElement.querySelector('pre code') || button.parentElement.querySelector('pre');
             const range = document.createRange();
             range.selectNodeContents(code);
             return [...range.getClientRects()].some((r) => r.width > 0
               && r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom);
           }).length"""
    )
    assert overlaps == 0
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('.copy-button')].map((b) => [b.offsetWidth, b.offsetHeight])"
    )
    assert sizes and all(w >= 44 and h >= 44 for w, h in sizes)
    context.close()


def test_the_browser_under_test_reaches_only_loopback(page):
    """Outside addresses fail at once instead of waiting on the network, so a
    page that imports something from the internet still paints in time.
    192.0.2.1 is reserved for documentation: without the rule it would hang."""
    with pytest.raises(PlaywrightError, match="ERR_NAME_NOT_RESOLVED"):
        page.goto("http://192.0.2.1/", timeout=5_000)
