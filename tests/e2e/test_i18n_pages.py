"""Every main page in Japanese (a ja-JP browser) and unchanged in English, through Chromium.

The words a Japanese page must not show are listed beside this file
(english_ui_words.txt): labels, buttons, headings, month and day names the
templates would print if a string escaped translation. A runbook's own text
and the demo's names and checklist titles are content, not UI, and are left
out of the check.
"""

import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from oncall.readiness.models import ChecklistTemplate, TemplateItem
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift

WORDS = [
    line.strip()
    for line in (Path(__file__).with_name("english_ui_words.txt")).read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
ENGLISH = re.compile(r"(?<![A-Za-z])(?:" + "|".join(map(re.escape, WORDS)) + r")(?![A-Za-z])")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# Content, not UI: a runbook's body and titles, people's names, checklist titles and notes.
CONTENT = [
    ".runbook-body",
    ".toc",
    "pre",
    "code",
    ".item__title",
    ".item__note",
    ".item__desc",
    "#id_time_zone",  # zone names (Atlantic/Jan Mayen) are data
]
SHOTS = os.environ.get("I18N_SCREENSHOTS")  # a folder, to look at the pages by eye


@pytest.fixture
def demo(db, live_server):
    call_command("seed_demo", verbosity=0)
    done = (
        ShadowShift.objects.filter(trainee__username="trainee", state=ShadowShift.State.DONE)
        .order_by("-starts_at")
        .first()
    )
    # The demo's own words, which stay as they were written.
    content = {
        *TemplateItem.objects.values_list("title", flat=True),
        *TemplateItem.objects.values_list("section", flat=True),
        *ChecklistTemplate.objects.values_list("name", flat=True),
        # The Japanese texts a lead wrote are content too (the editor shows them).
        *TemplateItem.objects.exclude(title_ja="").values_list("title_ja", flat=True),
        *TemplateItem.objects.exclude(section_ja="").values_list("section_ja", flat=True),
        *ChecklistTemplate.objects.exclude(name_ja="").values_list("name_ja", flat=True),
        *Runbook.objects.values_list("title", flat=True),
    }
    return {
        "content": sorted(content, key=len, reverse=True),
        "runbook": Runbook.objects.filter(archived=False).order_by("slug").first(),
        "shift": done,
        "template": ChecklistTemplate.objects.filter(team__slug="payments").first(),
    }


def ui_text(page, content: list[str]) -> str:
    """The page's visible text and labels, without its content."""
    text = page.evaluate(
        """(content) => {
             const body = document.body.cloneNode(true);
             for (const sel of content) body.querySelectorAll(sel).forEach((el) => el.remove());
             body.querySelectorAll('script, style, [hidden]').forEach((el) => el.remove());
             const attrs = [...body.querySelectorAll('[placeholder], [aria-label], [title]')]
               .map((el) => [el.getAttribute('placeholder'), el.getAttribute('aria-label'),
                             el.getAttribute('title')].filter(Boolean).join(' '));
             return body.innerText + '\\n' + attrs.join('\\n');
           }""",
        CONTENT,
    )
    for words in content:
        text = text.replace(words, " ")
    return text


def pages(demo) -> list[tuple[str, str, str]]:
    """(name, who signs in, path) for every page the check covers."""
    return [
        ("trainee-home", "trainee", "/"),
        ("runbook", "trainee", demo["runbook"].get_absolute_url()),
        ("runbook-search", "trainee", "/runbooks/?q=disk"),
        ("shifts-week", "trainee", "/shifts/?view=week"),
        ("shifts-month", "trainee", "/shifts/?view=month"),
        ("shift-debrief", "trainee", demo["shift"].get_absolute_url()),
        ("profile", "trainee", "/profile/"),
        ("dashboard", "lead", "/teams/payments/readiness/"),
        ("template-editor", "lead", f"/readiness/templates/{demo['template'].pk}/"),
        ("not-found", "trainee", "/no-such-page/"),
    ]


def visit_all(browser, live_server, demo, locale: str):
    """Sign in each person in a browser of ``locale`` and yield (name, page) per page."""
    contexts = {}
    try:
        for name, who, path in pages(demo):
            if who not in contexts:
                context = browser.new_context(
                    locale=locale, viewport={"width": 1280, "height": 900}
                )
                page = context.new_page()
                page.set_default_timeout(10_000)
                page.goto(f"{live_server.url}/accounts/login/")
                page.fill("input[name=username]", who)
                page.fill("input[name=password]", "oncall-demo")
                page.click("form[action='/accounts/login/'] button[type=submit]")
                page.wait_for_load_state("networkidle")
                contexts[who] = (context, page)
            page = contexts[who][1]
            response = page.goto(f"{live_server.url}{path}")
            assert response.status == (404 if name == "not-found" else 200), (name, path)
            if SHOTS:
                page.screenshot(path=f"{SHOTS}/{locale}-{name}.png", full_page=True)
            yield name, page
    finally:
        for context, _page in contexts.values():
            context.close()


def test_every_page_is_japanese_for_a_japanese_browser(browser, live_server, demo):
    leaks = {}
    for name, page in visit_all(browser, live_server, demo, "ja-JP"):
        assert page.evaluate("document.documentElement.lang") == "ja", name
        text = ui_text(page, demo["content"])
        assert JAPANESE.search(text), name
        found = sorted(
            {text[max(0, m.start() - 30) : m.end() + 30] for m in ENGLISH.finditer(text)}
        )
        if found:
            leaks[name] = found
    assert not leaks, "\n".join(
        f"{page}: {snippet!r}" for page, found in leaks.items() for snippet in found
    )


def test_every_page_stays_english_for_an_english_browser(browser, live_server, demo):
    for name, page in visit_all(browser, live_server, demo, "en-GB"):
        assert page.evaluate("document.documentElement.lang") == "en", name
        text = ui_text(page, demo["content"])
        # The switch names Japanese in Japanese; the search box's example is a Japanese word.
        for meant in ("日本語", "証明書"):
            text = text.replace(meant, "")
        assert not JAPANESE.search(text), (name, JAPANESE.findall(text)[:20])


def test_the_dashboard_csv_has_japanese_headers(browser, live_server, demo):
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "lead")
    page.fill("input[name=password]", "oncall-demo")
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/teams/payments/readiness/")
    with page.expect_download() as download:
        page.click("a[href$='readiness.csv']")
    header = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("エンジニア,ユーザー名,状態,進捗率(%)")
    context.close()


def test_the_switch_turns_the_login_page_japanese_and_back(page, live_server, db):
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.click("button[name=language][value=ja]")
    expect(page.locator("h1")).to_have_text("サインイン")
    page.click("button[name=language][value=en]")
    expect(page.locator("h1")).to_have_text("Sign in")


def test_kenji_reads_japanese_whatever_the_browser_says(page, live_server, demo):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "kenji")
    page.fill("input[name=password]", "oncall-demo")
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".site-nav")).to_contain_text("マイオンボーディング")
