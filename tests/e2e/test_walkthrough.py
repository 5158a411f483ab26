"""Each demo role walks its pages in Chromium on a desktop and a phone.

Every page a role reaches answers 200, never scrolls sideways, and says
nothing that the rest of the page contradicts (an empty-state message above
a list that has rows).
"""

from pathlib import Path

import pytest
from django.core.management import call_command

from oncall.runbooks.sync import sync_folders

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "oncall-demo"  # noqa: S105 - the public demo password
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

PAGES = {
    "trainee": [
        "/",
        "/shifts/",
        "/shifts/?view=month",
        "/runbooks/",
        "/runbooks/?q=disk",
        "/runbooks/payments-db/disk-full/",
        "/runbooks/alert/KubePodCrashLooping",
        "/profile/",
        "/reminders/",
    ],
    "primary": ["/", "/shifts/", "/shifts/?view=month", "/profile/", "/reminders/"],
    "lead": [
        "/",
        "/shifts/",
        "/shifts/?view=month",
        "/shifts/new/",
        "/teams/payments/readiness/",
        "/readiness/templates/",
        "/teams/payments/coverage/",
        "/teams/payments/alert-sources/",
        "/teams/payments/members/",
    ],
    "admin": [
        "/admin/",
        "/admin/teams/team/",
        "/admin/runbooks/runbook/",
        "/admin/shifts/shadowshift/",
        "/admin/readiness/onboarding/",
        "/admin/reminders/reminder/",
        "/admin/runbooks/syncrun/",
    ],
}

# An empty state and the thing it says is absent, on the same page.
CONTRADICTIONS = [
    ("No upcoming shifts", ".shift-list__item"),
    ("No shift is scheduled in your team", ".shift-list__item"),
    ("You have no onboarding yet", ".readiness-progress"),
]

SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", verbosity=0)
    sync_folders([ROOT / "runbooks"])


@pytest.mark.parametrize("role", sorted(PAGES))
def test_each_role_walks_its_pages(demo, live_server, browser, role):
    problems = []
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        problems += [f"{size} {problem}" for problem in walk(live_server, browser, role, viewport)]
    assert problems == []


def walk(live_server, browser, role, viewport):
    context = browser.new_context(viewport=viewport, is_mobile=viewport is PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

    problems = []
    for path in PAGES[role]:
        response = page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        expected = 404 if path.startswith("/runbooks/alert/") else 200
        if response.status != expected:
            problems.append(f"{path}: status {response.status}")
        if (overflow := page.evaluate(SIDEWAYS)) > 1:
            problems.append(f"{path}: scrolls {overflow}px sideways")
        text = page.inner_text("body")
        for message, contradicted_by in CONTRADICTIONS:
            if message in text and page.locator(contradicted_by).count():
                problems.append(f"{path}: says {message!r} beside {contradicted_by}")
    context.close()
    return problems
