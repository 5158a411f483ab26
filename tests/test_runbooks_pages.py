"""The runbook page, sections, diffs, panels and /runbooks/alert/<alertname>."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from oncall.runbooks import panels
from oncall.runbooks.models import Runbook
from oncall.runbooks.sync import sync_folders
from tests.html_elements import elements

HOSTILE = """---
title: "<script>alert('title')</script> Disk"
team: payments
service: "<b>svc</b>"
alerts: [HostileAlert]
tags: ["<img src=x onerror=alert(1)>"]
owner: "<i>mallory</i>"
---

# Hostile

## Mitigation

```bash
rm -rf /tmp/cache
```
"""


def write(root: Path, relative: str, content: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def samples(db, team, other_team):
    report = sync_folders([settings.RUNBOOKS_DIR])
    assert report.ok, report.errors


def page(client, slug: str) -> str:
    response = client.get(reverse("runbooks:detail", args=[slug]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_runbook_page_shows_metadata_toc_and_body(samples, client_for, trainee):
    body = page(client_for(trainee), "payments-api/error-rate-high")
    runbook = Runbook.objects.get(slug="payments-api/error-rate-high")
    assert f"<h1>{runbook.title}</h1>" in body
    assert "Payments" in body and "payments-api" in body
    for alert in runbook.alerts:
        assert f"<code>{alert}</code>" in body
    assert 'class="runbook-toc"' in body
    links = elements(body, "a", href="#mitigation")
    assert [a.text for a in links if "headerlink" not in a.classes] == ["Mitigation"]  # contents
    assert elements(body, "h2", id="mitigation")
    assert elements(body, "a", class_="headerlink", href="#mitigation")
    assert 'class="prose runbook-body" hx-disable' in body
    assert "js/runbooks." in body  # the copy buttons


def test_the_page_escapes_front_matter_everywhere(db, team, tmp_path, client_for, trainee):
    write(tmp_path, "svc/hostile.md", HOSTILE)
    assert sync_folders([tmp_path]).ok
    client = client_for(trainee)
    pages = [
        page(client, "svc/hostile"),
        client.get(reverse("runbooks:index")).content.decode(),
        client.get(reverse("runbooks:index"), {"q": "disk"}).content.decode(),
        client.get(
            reverse("runbooks:diff", args=["svc/hostile"]) + "?from=1&to=1"
        ).content.decode(),
    ]
    for body in pages:
        assert "<script>alert" not in body
        assert "<img src=x" not in body
        assert "<i>mallory</i>" not in body
        assert "<b>svc</b>" not in body
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt; Disk" in pages[0]
    assert "&lt;i&gt;mallory&lt;/i&gt;" in pages[0]


def test_review_status_shows_days_and_an_overdue_badge(samples, client_for, trainee):
    runbook = Runbook.objects.get(slug="payments-api/error-rate-high")
    today = timezone.localdate()
    Runbook.objects.filter(pk=runbook.pk).update(
        last_reviewed=today - timedelta(days=120), review_every=90
    )
    body = page(client_for(trainee), runbook.slug)
    assert "120 days ago" in body
    assert "review overdue since" in body
    Runbook.objects.filter(pk=runbook.pk).update(last_reviewed=today - timedelta(days=3))
    body = page(client_for(trainee), runbook.slug)
    assert "3 days ago" in body
    assert "review overdue" not in body
    assert "next review" in body


def test_review_helpers_on_the_model(db):
    today = timezone.localdate()
    runbook = Runbook(slug="x", title="x", review_every=30, last_reviewed=today - timedelta(31))
    assert runbook.review_due_on() == today - timedelta(1)
    assert runbook.is_review_overdue()
    assert runbook.days_since_review() == 31
    assert not Runbook(slug="y", title="y").is_review_overdue()


def test_the_page_query_count_is_pinned(
    samples, client_for, trainee, django_assert_max_num_queries, monkeypatch
):
    """The runbook page's own queries. Panels other apps register (readiness adds
    "mark as read") are left out: they pin their own cost."""
    monkeypatch.setattr(panels, "_panels", [])
    client = client_for(trainee)
    slug = "payments-db/disk-full"
    page(client, slug)
    # session, user, the header's lead team, runbook (+team, revision); the
    # revision list and body come with the runbook's cached parts
    with django_assert_max_num_queries(4):
        page(client, slug)


def test_the_page_is_small(samples, client_for, trainee):
    for runbook in Runbook.objects.all():
        body = page(client_for(trainee), runbook.slug)
        assert len(body.encode()) <= 60 * 1024, (runbook.slug, len(body.encode()))


def test_panels_render_below_the_title_in_order(samples, client_for, trainee):
    def first(request, runbook):
        return format_html('<p class="panel-one">read r{}</p>', runbook.current_revision.number)

    def second(request, runbook):
        return format_html('<p class="panel-two">for {}</p>', request.user.username)

    def nothing(request, runbook):
        return ""

    for panel in (first, nothing, second):
        panels.register(panel)
    try:
        body = page(client_for(trainee), "payments-db/disk-full")
    finally:
        for panel in (first, nothing, second):
            panels.unregister(panel)
    assert body.index("<h1>") < body.index("panel-one") < body.index("panel-two")
    assert body.index("panel-two") < body.index("runbook-body")
    assert "read r1" in body and "for trainee" in body


def test_an_archived_runbook_is_readable_with_a_banner(db, tmp_path, client_for, trainee):
    path = write(tmp_path, "svc/gone.md", "# Gone\n\nStill useful.\n")
    sync_folders([tmp_path])
    path.unlink()
    sync_folders([tmp_path])
    body = page(client_for(trainee), "svc/gone")
    assert "Archived" in body
    assert "Still useful." in body


def test_history_and_diff_between_revisions(db, tmp_path, client_for, trainee):
    path = write(tmp_path, "svc/disk.md", "# Disk\n\nStep one.\nStep two.\n")
    sync_folders([tmp_path])
    path.write_text("# Disk\n\nStep one.\nStep <three>.\n", encoding="utf-8")
    sync_folders([tmp_path])
    path.write_text("# Disk\n\nStep zero.\n", encoding="utf-8")
    sync_folders([tmp_path])
    client = client_for(trainee)
    body = page(client, "svc/disk")
    assert "r3" in body and "r2" in body and "r1" in body
    assert reverse("runbooks:diff", args=["svc/disk"]) + "?from=2&amp;to=3" in body

    response = client.get(reverse("runbooks:diff", args=["svc/disk"]), {"from": 1, "to": 2})
    assert response.status_code == 200
    diff = response.content.decode()
    assert "<del>Step two.</del>" in diff
    assert "<ins>Step &lt;three&gt;.</ins>" in diff
    assert "Changes from r1 to r2" in diff
    assert "r1 imported" in diff and "r2 imported" in diff

    response = client.get(reverse("runbooks:diff", args=["svc/disk"]))  # previous -> current
    assert "<ins>Step zero.</ins>" in response.content.decode()
    response = client.get(reverse("runbooks:diff", args=["svc/disk"]), {"from": 1, "to": 3})
    assert "<del>Step two.</del>" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [{"from": 1, "to": 9}, {"from": "x", "to": 1}, {"to": "99999999999999999999"}, {"from": -1}],
)
def test_a_diff_of_unknown_revisions_is_404(db, tmp_path, client_for, trainee, query):
    write(tmp_path, "svc/disk.md", "# Disk\n")
    sync_folders([tmp_path])
    response = client_for(trainee).get(reverse("runbooks:diff", args=["svc/disk"]), query)
    assert response.status_code == 404


def test_a_section_page_shows_the_folder_description(samples, client_for, trainee):
    body = page(client_for(trainee), "payments-api")
    assert "The public REST API that merchants call" in body
    assert "Payments API error rate high" in body
    assert "Ledger" not in body


def test_a_slug_typed_with_capitals_redirects(samples, client_for, trainee):
    response = client_for(trainee).get("/runbooks/Ledger-Worker/LedgerWorkerStuck/")
    assert response.status_code == 302
    assert response["Location"] == "/runbooks/ledger-worker/ledgerworkerstuck/"


def test_an_unknown_slug_is_404(samples, client_for, trainee):
    response = client_for(trainee).get(reverse("runbooks:detail", args=["no/such/runbook"]))
    assert response.status_code == 404


def test_the_runbook_page_needs_sign_in(samples, client):
    response = client.get(reverse("runbooks:detail", args=["payments-db/disk-full"]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# /runbooks/alert/<alertname>


def test_an_alert_redirects_to_its_runbook(samples, client_for, trainee):
    client = client_for(trainee)
    for name in ("PaymentsApiHighErrorRate", "paymentsapihigherrorrate", "PAYMENTSAPIDOWN"):
        response = client.get(reverse("runbooks:alert", args=[name]))
        assert response.status_code == 302
        assert response["Location"] == "/runbooks/payments-api/error-rate-high/"


def test_an_alert_named_by_the_file_redirects(samples, client_for, trainee):
    response = client_for(trainee).get("/runbooks/alert/LedgerWorkerStuck")
    assert response["Location"] == "/runbooks/ledger-worker/ledgerworkerstuck/"


@pytest.fixture
def shared_alert(db, team, other_team, tmp_path):
    write(tmp_path, "api/errors.md", "---\nteam: payments\nalerts: [HighErrorRate]\n---\n# API\n")
    write(tmp_path, "web/errors.md", "---\nteam: platform\nalerts: [HighErrorRate]\n---\n# Web\n")
    sync_folders([tmp_path])


def test_an_alert_with_several_runbooks_lists_them_with_300(shared_alert, client_for, trainee):
    response = client_for(trainee).get("/runbooks/alert/HighErrorRate")
    assert response.status_code == 300
    body = response.content.decode()
    assert "/runbooks/api/errors/" in body and "/runbooks/web/errors/" in body


@pytest.mark.parametrize(
    ("query", "location"),
    [
        ("?team=platform", "/runbooks/web/errors/"),
        ("?service=api", "/runbooks/api/errors/"),
        ("?team=payments&service=api", "/runbooks/api/errors/"),
    ],
)
def test_team_or_service_narrow_an_alert_to_one(shared_alert, client_for, trainee, query, location):
    response = client_for(trainee).get("/runbooks/alert/higherrorrate" + query)
    assert response.status_code == 302
    assert response["Location"] == location


def test_a_team_that_matches_nothing_does_not_hide_the_runbook(samples, client_for, trainee):
    response = client_for(trainee).get("/runbooks/alert/LedgerWorkerStuck?team=platform")
    assert response.status_code == 302


def test_an_unknown_alert_is_404_with_close_matches_and_a_hint(samples, client_for, trainee):
    response = client_for(trainee).get("/runbooks/alert/PaymentsApiHighErrorRates")
    assert response.status_code == 404
    body = response.content.decode()
    assert "/runbooks/alert/PaymentsApiHighErrorRate" in body
    assert "alerts: [PaymentsApiHighErrorRates]" in body


def test_an_unknown_alert_name_is_escaped(samples, client_for, trainee):
    response = client_for(trainee).get("/runbooks/alert/%3Cb%3Ebold%3Cb%3E")
    assert response.status_code == 404
    assert "<b>bold" not in response.content.decode()
    assert "&lt;b&gt;bold" in response.content.decode()


def test_an_archived_runbook_does_not_answer_its_alert(db, tmp_path, client_for, trainee):
    path = write(tmp_path, "svc/OldAlert.md", "# Old\n")
    sync_folders([tmp_path])
    path.unlink()
    sync_folders([tmp_path])
    response = client_for(trainee).get("/runbooks/alert/OldAlert")
    assert response.status_code == 404


def test_the_alert_redirect_query_count_is_pinned(
    samples, client_for, trainee, django_assert_max_num_queries
):
    client = client_for(trainee)
    with django_assert_max_num_queries(3):  # session, user, runbooks
        response = client.get("/runbooks/alert/PaymentsApiDown")
    assert response.status_code == 302
