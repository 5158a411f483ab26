"""The performance budget: queries for every page, and what the runbook page may render.

Timing belongs to bench/ (bench_runbooks_page.py measures the page with wrk);
here the budget is what does not depend on the machine: how many queries each
page issues on the demo data, and how many template nodes the runbook page
renders once its own parts are cached. A page that starts issuing more, or a
new page without a budget, fails here.
"""

import re

import pytest
from django.template import base as template_base
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone, translation

from oncall.drills.models import Drill, Response
from oncall.readiness.models import ChecklistTemplate, ItemProgress, Kind, Onboarding
from oncall.runbooks.models import Runbook
from oncall.runbooks.sync import sync_folders
from oncall.runbooks.views import _page_parts_key, _page_runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team

SLUG = "payments-db/disk-full"

# Pages a person opens (GET), by URL name: (who opens it, the most queries it
# may issue on the demo data). Counted after one warm-up request, as a person
# opening it again would see it.
BUDGETS = {
    "login": ("anonymous", 0),
    "profile": ("trainee", 6),
    "team_members": ("lead", 6),
    "rotations:index": ("lead", 14),
    "healthz": ("anonymous", 2),
    "metrics": ("anonymous", 7),
    "readiness:home": ("trainee", 12),
    "readiness:onboarding": ("lead", 14),
    "readiness:dashboard": ("lead", 10),
    "readiness:dashboard_csv": ("lead", 8),
    "readiness:start": ("lead", 8),
    "readiness:templates": ("lead", 6),
    "readiness:template_create": ("lead", 6),
    "readiness:template_edit": ("lead", 10),
    "readiness:template_item_create": ("lead", 7),
    "runbooks:index": ("trainee", 7),
    "runbooks:alert": ("trainee", 3),
    # Mis-templated alert links: a 404 page that says so.
    "runbooks:alert_unnamed": ("trainee", 3),
    "runbooks:alert_path": ("trainee", 3),
    "runbooks:diff": ("trainee", 6),
    "runbooks:detail": ("trainee", 2),
    "shifts:index": ("trainee", 9),
    "shifts:new": ("lead", 6),
    "shifts:detail": ("trainee", 13),
    "shifts:edit": ("lead", 8),
    "shifts:feed": ("anonymous", 4),
    "shifts:feed_team": ("anonymous", 4),
    "reminders:list": ("trainee", 6),
    "alerts:coverage": ("lead", 8),
    "alerts:sources": ("lead", 6),
    "alerts:shift_timeline": ("trainee", 8),
    # Pages of a person with no onboarding of their own ask once whether they
    # have one (the navigation's first tab), hence one query more than before.
    "drills:list": ("trainee", 5),
    "drills:console": ("trainee", 8),
    "drills:live_page": ("trainee", 8),
    "drills:scenarios": ("lead", 6),
    "drills:record": ("lead", 4),
    "drills:scenario": ("lead", 10),
    "drills:download": ("lead", 6),
}
# Not pages: they answer POSTs (and refuse a GET), or hand over to another site.
NOT_PAGES = {
    "logout", "sso_start", "sso_callback", "admin_login", "regenerate_calendar_token",
    "readiness:item", "readiness:sign_off", "readiness:clear", "readiness:comment",
    "readiness:reopen", "readiness:mark_read", "readiness:template_copy",
    "readiness:template_item_edit", "readiness:template_item_delete",
    "readiness:template_item_move", "shifts:debrief", "shifts:answer", "shifts:done", "shifts:cancel",
    "shifts:dismiss_flags", "reminders:send_test", "alerts:alertmanager", "alerts:revoke_source",
    "alerts:new_token", "alerts:source_teams", "alerts:withdraw_source",
    "drills:acknowledge", "drills:note", "drills:end", "drills:inject", "drills:finish",
    "drills:grade", "drills:open_runbook",
    "drills:live_acknowledge", "drills:live_note", "drills:live_end", "drills:live_review",
    "change_member_role", "remove_member", "team_settings",
    "rotations:add", "rotations:add_plan", "rotations:link", "rotations:read",
    "set_language",
}  # fmt: skip

# The runbook page once its own parts are cached: the shell (base template,
# navigation, user menu) and the per-reader cards: 64 today.
RUNBOOK_PAGE_NODES = 80
RUNBOOK_PAGE_QUERIES = 2  # session (+user, lead teams), runbook (+team, revision, reading card)


def url_names() -> set[str]:
    names = set()

    def walk(resolver, namespace=None):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                ns = pattern.namespace or namespace
                if ns != "admin":
                    walk(pattern, ns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver())
    return names


def test_every_page_has_a_query_budget():
    assert url_names() - set(BUDGETS) - NOT_PAGES == set(), "a page without a query budget"
    assert set(BUDGETS) | NOT_PAGES <= url_names(), "a budget for a page that is gone"


@pytest.fixture
def demo(demo_for_module, db, django_user_model):
    return {user.username: user for user in django_user_model.objects.all()}


def url_for(name: str, users: dict) -> str:
    team = Team.objects.get(slug="payments")
    shift = ShadowShift.objects.filter(trainee=users["trainee"]).order_by("starts_at").first()
    onboarding = Onboarding.objects.filter(engineer=users["trainee"]).first()
    template = ChecklistTemplate.objects.first()
    token = users["trainee"].profile.calendar_token
    # The demo's drill graded for the trainee: its console shows the whole timeline.
    drill = Drill.objects.filter(trainee=users["trainee"], state=Drill.State.GRADED).first()
    response = Response.objects.filter(responder=users["trainee"], shift__isnull=False).first()
    live_page = [response.shift_id, response.occurrence_id] if response else []
    args = {
        "team_members": [team.slug],
        "readiness:onboarding": [onboarding.pk],
        "readiness:dashboard": [team.slug],
        "readiness:dashboard_csv": [team.slug],
        "readiness:start": [team.slug],
        "readiness:template_edit": [template.pk],
        "readiness:template_item_create": [template.pk],
        "runbooks:alert": [Runbook.objects.get(slug=SLUG).alerts[0]],
        "runbooks:diff": [SLUG],
        "runbooks:detail": [SLUG],
        "shifts:detail": [shift.pk],
        "shifts:edit": [shift.pk],
        "shifts:feed": [token],
        "shifts:feed_team": [users["lead"].profile.calendar_token, team.slug],
        "alerts:coverage": [team.slug],
        "alerts:sources": [team.slug],
        "alerts:shift_timeline": [shift.pk],
        "drills:console": [drill.pk],
        # The demo trainee's page of the shift on now, which they responded to.
        "drills:live_page": live_page,
        "rotations:index": [team.slug],
        "runbooks:alert_path": ["KubePodCrashLooping/{{ $labels.pod }}"],
        "drills:scenarios": [team.slug],
        "drills:record": [team.slug],
        "drills:scenario": [team.slug, drill.scenario_id],
        "drills:download": [team.slug, drill.scenario_id],
    }.get(name, [])
    return reverse(name, args=args)


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_the_page_stays_within_its_query_budget(
    name, demo, client, django_assert_max_num_queries, settings
):
    settings.METRICS_TOKEN = "a-metrics-token-for-tests"
    who, budget = BUDGETS[name]
    if who != "anonymous":
        client.force_login(demo[who])
    url = url_for(name, demo)
    headers = {"authorization": f"Bearer {settings.METRICS_TOKEN}"} if name == "metrics" else {}
    first = client.get(url, headers=headers)
    # /healthz answers 503 here: no worker beats in a test.
    expected = {
        "healthz": (200, 503),
        "runbooks:alert_unnamed": (404,),
        "runbooks:alert_path": (404,),
    }
    assert first.status_code in expected.get(name, (200, 302)), (url, first)
    with django_assert_max_num_queries(budget):
        response = client.get(url, headers=headers)
    assert response.status_code == first.status_code


@pytest.fixture
def count_nodes(monkeypatch):
    """How many template nodes render while the block runs."""
    rendered = []
    original = template_base.Node.render_annotated

    def counting(self, context):
        rendered.append(type(self).__name__)
        return original(self, context)

    monkeypatch.setattr(template_base.Node, "render_annotated", counting)
    return rendered


def reading_item(trainee) -> ItemProgress:
    """A runbook on the demo trainee's checklist: its page shows the reading card."""
    return ItemProgress.objects.filter(
        onboarding__engineer=trainee, kind=Kind.READ_RUNBOOK, runbook__isnull=False
    ).first()


def test_the_runbook_page_renders_within_its_node_budget(demo, client, count_nodes):
    client.force_login(demo["trainee"])
    url = reverse("runbooks:detail", args=[reading_item(demo["trainee"]).runbook.slug])
    assert client.get(url).status_code == 200  # renders the runbook's parts into the cache
    count_nodes.clear()
    # A page with a query string (the search box shows it) is rendered each
    # time, around the cached parts: that rendering is what is counted.
    response = client.get(url, {"q": "disk"})
    assert response.status_code == 200
    assert "On your onboarding checklist" in response.content.decode()  # the reading card
    assert len(count_nodes) <= RUNBOOK_PAGE_NODES, f"{len(count_nodes)} template nodes rendered"
    count_nodes.clear()
    assert client.get(url).status_code == 200
    assert count_nodes == []  # the reader's page without a query comes from the cache


def test_a_visit_without_a_csrf_cookie_is_served_the_kept_page(
    demo, client, count_nodes, django_assert_max_num_queries, settings
):
    """A first visit (no CSRF cookie yet) costs what a repeat visit costs: the
    reader's kept page with a new secret's token put in, nothing rendered."""
    client.force_login(demo["trainee"])
    url = reverse("runbooks:detail", args=[reading_item(demo["trainee"]).runbook.slug])
    assert client.get(url).status_code == 200
    del client.cookies[settings.CSRF_COOKIE_NAME]
    count_nodes.clear()
    with django_assert_max_num_queries(RUNBOOK_PAGE_QUERIES):
        response = client.get(url)
    assert response.status_code == 200
    assert count_nodes == []
    assert response.cookies[settings.CSRF_COOKIE_NAME].value  # the secret its forms are bound to


def test_the_runbook_page_queries_are_pinned_for_a_lead_too(
    demo, client, django_assert_max_num_queries
):
    """A lead of the runbook's team also gets the debrief-flags card: one more query
    (the flags), the lead check itself is the header's."""
    client.force_login(demo["lead"])
    url = reverse("runbooks:detail", args=[SLUG])
    client.get(url)
    with django_assert_max_num_queries(RUNBOOK_PAGE_QUERIES + 2):
        assert client.get(url).status_code == 200


# Cached, yet never stale: what a reader changes shows on their next request.


def test_a_new_revision_shows_on_the_next_request(demo, tmp_path, client_for):
    trainee = demo["trainee"]
    path = tmp_path / "payments" / "cache-check.md"
    path.parent.mkdir(parents=True)
    path.write_text(
        "---\ntitle: Cache check\nteam: payments\n---\n\n# Cache check\n\nFirst words.\n"
    )
    assert sync_folders([tmp_path]).ok
    client = client_for(trainee)
    url = reverse("runbooks:detail", args=["payments/cache-check"])
    assert "First words." in client.get(url).content.decode()
    path.write_text(
        "---\ntitle: Cache check\nteam: payments\n---\n\n# Cache check\n\nSecond words.\n"
    )
    assert sync_folders([tmp_path]).ok
    body = client.get(url).content.decode()
    assert "Second words." in body and "First words." not in body
    assert "r2" in body  # the history lists the new revision


def test_a_membership_change_shows_on_the_next_request(demo, client):
    trainee = demo["trainee"]
    client.force_login(trainee)
    url = reverse("runbooks:detail", args=[SLUG])
    dashboard = reverse("readiness:dashboard", args=["payments"])
    assert dashboard not in client.get(url).content.decode()
    Membership.objects.filter(user=trainee, team__slug="payments").update(role=Membership.Role.LEAD)
    assert dashboard in client.get(url).content.decode()


def test_a_read_mark_shows_on_the_next_request(demo, client):
    trainee = demo["trainee"]
    item = reading_item(trainee)
    ItemProgress.objects.filter(pk=item.pk).update(revision_read=None, done_at=None)
    client.force_login(trainee)
    url = reverse("runbooks:detail", args=[item.runbook.slug])
    body = client.get(url).content.decode()
    assert "Reading it counts toward your on-call readiness." in body
    proof = re.search(r'name="opened" value="([^"]+)"', body).group(1)
    client.post(reverse("readiness:mark_read", args=[item.runbook.pk]), {"opened": proof})
    number = item.runbook.current_revision.number
    body = client.get(url).content.decode()
    assert f"You read revision {number}, the current one." in body


def test_the_cached_parts_are_kept_apart_by_language(demo):
    runbook, shown, _read = _page_runbook(SLUG)
    today = timezone.localdate()
    with translation.override("en"):
        english = _page_parts_key(runbook, shown, today)
    with translation.override("ja"):
        japanese = _page_parts_key(runbook, shown, today)
    assert english != japanese


def test_a_repeat_visit_of_an_unchanged_page_is_not_modified(demo, client):
    trainee = demo["trainee"]
    item = reading_item(trainee)
    ItemProgress.objects.filter(pk=item.pk).update(revision_read=None, done_at=None)
    client.force_login(trainee)
    url = reverse("runbooks:detail", args=[item.runbook.slug])
    first = client.get(url)
    etag = first.headers["ETag"]
    assert "private" in first.headers["Cache-Control"]
    again = client.get(url, headers={"if-none-match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    # Marking it read changes the reader's card: the page is sent again.
    proof = re.search(r'name="opened" value="([^"]+)"', first.content.decode()).group(1)
    client.post(reverse("readiness:mark_read", args=[item.runbook.pk]), {"opened": proof})
    client.get(url)  # the page that shows the "Marked as read" message once
    after = client.get(url, headers={"if-none-match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    # Another reader (or language) never gets this reader's page as "not modified".
    client.force_login(demo["primary"])
    assert client.get(url, headers={"if-none-match": after.headers["ETag"]}).status_code == 200
    with translation.override("ja"):
        client.force_login(trainee)
        japanese = client.get(url, headers={"accept-language": "ja"})
    assert japanese.headers.get("ETag") not in (None, after.headers["ETag"])
