"""The runbook page for the reader in a hurry: the steps are on the first screen.

Mid-incident someone opens a runbook on a phone; its first section (what the
alert means, what to do) must be in view without scrolling, on a phone and on
a laptop, for a trainee who has the runbook on their checklist (the reading
card shows) as for anyone else.
"""

import os

import pytest
from django.core.management import call_command

from oncall.teams.demo import DEMO_PASSWORD

SCREENS = {"phone": (390, 844), "laptop": (1280, 800)}
RUNBOOKS = ("payments-api/latency-high", "payments-db/disk-full", "payments-api/certificate-expiry")


SHOTS = os.environ.get("RUNBOOK_SCREENSHOTS")  # a folder, to look at the pages by eye


@pytest.fixture
def demo(transactional_db, live_server):
    """The demo: the trainee's checklist asks them to read these runbooks, so the
    page shows its reading card too."""
    call_command("seed_demo", verbosity=0)


def _first_lines(page) -> dict:
    """Where the body's first heading and the paragraph after it are, and the page's first text."""
    return page.evaluate(
        """() => {
          const heading = document.querySelector('.runbook-body :is(h2, h3)');
          const next = heading && heading.nextElementSibling;
          const main = document.querySelector('main');
          return {
            heading: heading && heading.getBoundingClientRect().top,
            text: next && next.getBoundingClientRect().top,
            height: window.innerHeight,
            first: main.innerText.trim().split('\\n')[0],
            template: main.innerText.includes('{%'),
          };
        }"""
    )


@pytest.mark.parametrize("screen", SCREENS)
def test_the_first_section_is_on_the_first_screen(live_server, browser, demo, screen):
    width, height = SCREENS[screen]
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=screen == "phone"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/runbooks/")
        page.fill("input[name=username]", "trainee")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/runbooks/")
        for slug in RUNBOOKS:
            page.goto(f"{live_server.url}/runbooks/{slug}/")
            where = _first_lines(page)
            if SHOTS:
                name = slug.replace("/", "-")
                page.screenshot(path=os.path.join(SHOTS, f"runbook-{name}-{screen}.png"))
            assert where["heading"] is not None, slug
            # The heading and the first line under it are both in view.
            assert 0 <= where["heading"] < where["height"], (screen, slug, where)
            assert where["text"] + 24 <= where["height"], (screen, slug, where)
            # The page opens with where the runbook sits, never with a template's comment.
            assert where["first"].startswith("Runbooks"), where
            assert not where["template"], slug
            if screen == "phone":
                assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()


def _sign_in(page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _lines_of_each_word(page) -> list[tuple[str, int]]:
    """Each piece of the coverage table's alert names between two <wbr>, with
    the number of lines it is drawn on (more than one: broken mid-word)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('th.coverage-alert')].flatMap((th) =>
             [...th.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.data.trim())
               .map((n) => {
                 const range = document.createRange();
                 range.selectNodeContents(n);
                 const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                 return [n.data, tops.size];
               }))"""
    )


@pytest.mark.parametrize("screen", SCREENS)
def test_the_pages_around_a_missing_runbook_fit_the_screen(live_server, browser, demo, screen):
    """The no-runbook page says who to page before anything else; the members
    page and the coverage table fit a phone, alert names wrapping between words."""
    from django.utils import timezone

    from oncall.alerts.models import AlertOccurrence
    from oncall.teams.models import Team

    team = Team.objects.get(slug="payments")
    for name in ("KubePodCrashLooping", "PaymentsLedgerLagHigh"):
        AlertOccurrence.objects.create(
            team=team, alertname=name, alert_key=name.lower(), fingerprint=f"shot-{name}",
            starts_at=timezone.now(), status="firing", labels={"alertname": name},
        )  # fmt: skip
    width, height = SCREENS[screen]
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=screen == "phone"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    base = live_server.url
    try:
        _sign_in(page, base, "lead", "/runbooks/alert/KubePodCrashLooping")
        assert page.url == f"{base}/runbooks/alert/KubePodCrashLooping"
        escalation = page.locator(".escalation").bounding_box()
        assert escalation["y"] < height, escalation  # who to page: on the first screen
        assert escalation["y"] < page.locator("#alert-search").bounding_box()["y"]
        shots = [("no-runbook", None)]
        page_list = [
            ("no-runbook-unnamed", "/runbooks/alert/"),
            ("members", "/teams/payments/members/"),
            ("coverage", "/teams/payments/coverage/"),
        ]
        for name, path in [*shots, *page_list]:
            if path:
                page.goto(f"{base}{path}")
            if screen == "phone":
                assert page.evaluate("document.documentElement.scrollWidth") <= width, name
            if name == "coverage":
                pieces = _lines_of_each_word(page)
                assert ("Crash", 1) in [tuple(p) for p in pieces]
                assert all(lines == 1 for _text, lines in pieces), pieces
            if SHOTS:
                page.screenshot(
                    path=os.path.join(SHOTS, f"{name}-{screen}.png"), full_page=name != "coverage"
                )
    finally:
        context.close()
