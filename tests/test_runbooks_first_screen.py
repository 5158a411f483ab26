"""The runbook page for the reader in a hurry (what the HTML promises; the
browser test tests/e2e/test_runbook_first_screen_e2e.py measures the screen)."""

import pytest
from django.conf import settings

from oncall.runbooks import views
from oncall.runbooks.render import PERMALINK_TITLE
from oncall.runbooks.sync import sync_folders
from tests.html_elements import elements


@pytest.fixture
def samples(db, team, other_team):
    assert sync_folders([settings.RUNBOOKS_DIR]).ok


def test_the_facts_fold_and_the_contents_start_closed(samples, client_for, trainee):
    body = client_for(trainee).get("/runbooks/payments-api/latency-high/").content.decode()
    facts = body[body.index('<details class="runbook-facts') :]
    summary = facts[: facts.index("</summary>")]
    assert "Payments" in summary and "payments-api" in summary and "Reviewed" in summary
    assert "<code>PaymentsApiHighLatency</code>" in facts[: facts.index("</details>")]
    toc = body[body.index('<nav class="runbook-toc"') :]
    assert "<details>" in toc[: toc.index("<summary>")]  # closed until a wide screen opens it
    # Nothing but the title and one line of facts between the header and the steps.
    assert body.index('class="runbook-toc"') < body.index('class="prose runbook-body"')
    assert "{%" not in body and "rendered once per revision" not in body


def test_the_anchor_tooltip_is_in_the_readers_language(monkeypatch):
    html = f'<h2 id="a">A<a class="headerlink" href="#a" title="{PERMALINK_TITLE}">#</a></h2>'
    assert views.localised_html(html) == html
    monkeypatch.setattr(
        views, "_", lambda text: "このセクションへのリンク" if text == PERMALINK_TITLE else text
    )
    assert 'title="このセクションへのリンク"' in views.localised_html(html)


def test_the_page_asks_for_the_title_in_the_readers_language(samples, client_for, trainee):
    body = client_for(trainee).get("/runbooks/payments-db/disk-full/").content.decode()
    links = elements(body, "a", class_="headerlink")
    assert links and all(a.attrs.get("title") == PERMALINK_TITLE for a in links)
