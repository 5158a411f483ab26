"""Runbooks in Chromium: safe rendering, search as you type, copy, phones, no JavaScript."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

from oncall.runbooks.sync import sync_folders
from tests.conftest import PASSWORD
from tests.test_runbooks_render import XSS_DOCUMENT


@pytest.fixture
def samples(transactional_db, team, other_team):
    report = sync_folders([settings.RUNBOOKS_DIR])
    assert report.ok, report.errors


def test_the_xss_corpus_runs_nothing_in_chromium(live_server, page, sign_in, trainee, tmp_path):
    (tmp_path / "sec").mkdir()
    (tmp_path / "sec" / "xss.md").write_text(XSS_DOCUMENT, encoding="utf-8")
    assert sync_folders([tmp_path]).ok
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, trainee, "/runbooks/sec/xss/")
    expect(page.locator(".runbook-body")).to_contain_text("htmx")
    # Hover and click everything the corpus left, in case a handler survived.
    for element in page.locator(".runbook-body *").all():
        if element.is_visible():
            element.hover()
    for link in page.locator(".runbook-body a:not(.headerlink)").all():
        if link.is_visible():
            link.click(modifiers=["Control"])  # would run a javascript: URL, not navigate away
    page.wait_for_timeout(300)
    dangerous = page.evaluate(
        """() => [...document.querySelectorAll('.runbook-body *')].flatMap(el => {
            const found = [];
            if (/^(SCRIPT|IFRAME|OBJECT|EMBED|STYLE|FORM|INPUT|SVG|MATH|BASE|META)$/i.test(el.tagName))
                found.push(el.tagName);
            for (const attr of el.attributes) {
                if (/^(on|hx-|style$)/i.test(attr.name)) found.push(el.tagName + '[' + attr.name + ']');
                if (/^\\s*(javascript|vbscript|data):/i.test(attr.value)) found.push(attr.value);
            }
            return found;
        })"""
    )
    assert dangerous == []
    assert dialogs == []
    assert page.url.endswith("/runbooks/sec/xss/")


def test_search_updates_as_you_type(live_server, page, sign_in, trainee, samples):
    sign_in(page, trainee, "/runbooks/")
    page.fill("#runbook-q", "")
    page.locator("#runbook-q").press_sequentially("証明書", delay=30)
    results = page.locator("#runbook-results")
    expect(results.locator(".runbook-hit")).to_have_count(1)
    expect(results.locator("mark").first).to_have_text("証明書")
    expect(page).to_have_url(
        f"{live_server.url}/runbooks/?q=%E8%A8%BC%E6%98%8E%E6%9B%B8&team=&tag="
    )
    page.locator("select[name=team]").select_option("platform")
    expect(results).to_contain_text("No runbook mentions")
    page.locator("select[name=team]").select_option("payments")
    expect(results.locator(".runbook-hit").first).to_be_visible()


def test_slash_focuses_search_from_a_runbook(live_server, page, sign_in, trainee, samples):
    sign_in(page, trainee, "/runbooks/payments-db/disk-full/")
    page.keyboard.press("/")
    expect(page.locator("#site-search")).to_be_focused()
    page.keyboard.type("failover")
    page.keyboard.press("Enter")
    expect(page.locator(".runbook-hit").first).to_contain_text("failover")


def test_copy_button_copies_a_command(live_server, browser, sign_in, trainee, samples):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    # The button says "Copied" for 1.5 s; on a busy machine a check could look
    # after that. The page's clock moves only when the test moves it.
    page.clock.install()
    try:
        sign_in(page, trainee, "/runbooks/payments-db/disk-full/")
        blocks = page.locator(".runbook-body .highlight")
        assert blocks.count() >= 2
        button = blocks.first.locator(".copy-button")
        expect(button).to_have_count(1)
        expected = blocks.first.locator("code").inner_text().rstrip("\n")
        button.click()
        expect(button).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == expected
        page.clock.run_for(1600)
        expect(button).to_have_text("Copy")
    finally:
        context.close()


def test_an_alert_link_opens_the_runbook_at_a_heading(live_server, page, sign_in, trainee, samples):
    sign_in(page, trainee, "/runbooks/alert/paymentsdbdiskfull")
    expect(page).to_have_url(f"{live_server.url}/runbooks/payments-db/disk-full/")
    page.goto(f"{live_server.url}/runbooks/payments-db/disk-full/#mitigation")
    expect(page.locator("h2#mitigation")).to_be_in_viewport()
    page.locator("h2#mitigation .headerlink").click()
    assert page.url.endswith("#mitigation")


def test_the_runbook_page_fits_a_phone(live_server, phone, sign_in, trainee, samples):
    sign_in(phone, trainee, "/runbooks/")
    for slug in ("payments-api/certificate-expiry", "payments-db/disk-full"):
        phone.goto(f"{live_server.url}/runbooks/{slug}/")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (slug, width)
        expect(phone.locator(".runbook-toc")).to_be_visible()
        expect(phone.locator(".runbook-header h1")).to_be_visible()


def test_reading_and_searching_work_without_javascript(live_server, browser, trainee, samples):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/runbooks/")
        page.fill("input[name=username]", trainee.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.fill("#runbook-q", "期限切れ")
        page.click(".runbook-search button[type=submit]")
        expect(page.locator(".runbook-hit")).to_have_count(1)
        page.click(".runbook-hit__title")
        expect(page.locator(".runbook-header h1")).to_contain_text("証明書の期限切れ")
        expect(page.locator(".runbook-body h2").first).to_be_visible()
        expect(page.locator(".copy-button")).to_have_count(0)
        page.locator(".runbook-toc a").nth(2).click()
        assert "#" in page.url
    finally:
        context.close()
