"""The runbook page's fast path: each reader's page rendered once, and the lookups
every request makes (session, user, the runbook, the reader's card) in plain SQL
that gives what the ORM gives."""

import re
import subprocess
from datetime import timedelta

import pytest
import redis
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.core.cache import cache, caches
from django.db import connection
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string

from oncall.accounts.backends import PasswordBackend, user_by_id
from oncall.accounts.models import Session
from oncall.accounts.sessions import SessionStore
from oncall.readiness.models import ItemProgress, Kind
from oncall.runbooks import reader_pages
from oncall.runbooks.models import Runbook
from oncall.runbooks.views import PAGE_COLUMNS, _page_runbook
from oncall.teams.redis_cache import RedisCache
from oncall.teams.rows import prepared_cursor
from tests.stack import free_port, wait_until

CSP_NONCE = re.compile(r"'nonce-([^']+)'")
# The CSRF token in a form or in the header htmx sends (base.html).
CSRF_TOKEN = re.compile(
    r'(?:name="csrfmiddlewaretoken" value="|"x-csrftoken": ")([A-Za-z0-9]{64})"'
)


@pytest.fixture
def demo(demo_for_module, db, django_user_model):
    return {user.username: user for user in django_user_model.objects.all()}


def reading_url(trainee) -> str:
    """A runbook on the demo trainee's checklist, not read yet: its page has the reading form."""
    item = ItemProgress.objects.filter(
        onboarding__engineer=trainee, kind=Kind.READ_RUNBOOK, runbook__isnull=False
    ).first()
    ItemProgress.objects.filter(pk=item.pk).update(revision_read=None, done_at=None)
    return reverse("runbooks:detail", args=[item.runbook.slug])


def rendered_templates(client, url):
    names = []

    def record(sender, template, context, **kwargs):
        names.append(template.name)

    template_rendered.connect(record)
    try:
        response = client.get(url)
    finally:
        template_rendered.disconnect(record)
    assert response.status_code == 200
    return response, names


def test_it_renders_a_readers_page_once_and_serves_it_again_with_a_new_nonce(demo, client):
    client.force_login(demo["trainee"])
    url = reading_url(demo["trainee"])
    first, first_templates = rendered_templates(client, url)
    again, again_templates = rendered_templates(client, url)
    assert "runbooks/detail.html" in first_templates
    assert again_templates == []  # served from the cache
    nonces, tokens, pages = [], [], []
    for response in (first, again):
        nonce = CSP_NONCE.search(response.headers["Content-Security-Policy"]).group(1)
        body = response.content.decode()
        # Every script the page carries has this response's nonce, and no other.
        assert set(re.findall(r'nonce="([^"]+)"', body)) == {nonce}
        assert "\x00" not in body
        nonces.append(nonce)
        tokens.append(set(CSRF_TOKEN.findall(body)))
        pages.append(CSRF_TOKEN.sub("", body.replace(nonce, "")))
    assert nonces[0] != nonces[1]
    # The token is masked anew for each response, in the forms and in htmx's header.
    assert len(tokens[1]) == 1 and tokens[0] != tokens[1]
    assert pages[0] == pages[1]


def test_each_reader_gets_a_page_of_their_own_and_a_query_is_never_kept(demo, client):
    url = reading_url(demo["trainee"])
    client.force_login(demo["trainee"])
    trainee_page = client.get(url).content.decode()
    searched, templates = rendered_templates(client, url + "?q=disk+%3Cb%3E")
    assert 'value="disk &lt;b&gt;"' in searched.content.decode()
    assert 'value="disk' not in trainee_page
    _again, templates = rendered_templates(client, url + "?q=disk+%3Cb%3E")
    assert "runbooks/detail.html" in templates  # rendered anew, with new CSRF masks
    client.force_login(demo["primary"])
    primary_page = client.get(url).content.decode()
    assert "On your onboarding checklist" in trainee_page
    assert "On your onboarding checklist" not in primary_page
    assert ">primary<" in primary_page and ">trainee<" not in primary_page


def test_the_cached_pages_forms_still_pass_the_csrf_check(demo, client):
    """The tokens in a served-again page are bound to this browser's CSRF secret."""
    csrf_client = client.__class__(enforce_csrf_checks=True)
    csrf_client.force_login(demo["trainee"])
    url = reading_url(demo["trainee"])
    csrf_client.get(url)
    again = csrf_client.get(url)  # from the cache
    assert again.status_code == 200, again
    body = again.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    proof = re.search(r'name="opened" value="([^"]+)"', body).group(1)
    runbook = Runbook.objects.get(slug=url.split("/runbooks/")[1].rstrip("/"))
    response = csrf_client.post(
        reverse("readiness:mark_read", args=[runbook.pk]),
        {"opened": proof, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


def browser(client_class, user, secret: str | None):
    """A signed-in browser that checks CSRF, with ``secret`` in its CSRF cookie (None: no cookie)."""
    other = client_class(enforce_csrf_checks=True)
    other.force_login(user)
    if secret is not None:
        other.cookies[settings.CSRF_COOKIE_NAME] = secret
    return other


def mark_read(browser_, url: str, body: str, *, header: bool = False):
    """POST the page's "Mark as read" form, its token in the form or in htmx's header."""
    token = CSRF_TOKEN.search(body).group(1)
    proof = re.search(r'name="opened" value="([^"]+)"', body).group(1)
    runbook = Runbook.objects.get(slug=url.split("/runbooks/")[1].rstrip("/"))
    data, headers = {"opened": proof}, {}
    if header:
        headers["X-CSRFToken"] = re.search(r'"x-csrftoken": "([A-Za-z0-9]{64})"', body).group(1)
    else:
        data["csrfmiddlewaretoken"] = token
    return browser_.post(reverse("readiness:mark_read", args=[runbook.pk]), data, headers=headers)


def test_a_csrf_cookie_the_page_has_not_seen_is_served_the_kept_page(demo, client, settings):
    """Random CSRF cookies cannot fill the cache: the kept page is one per reader
    and page, whatever secret the browser holds, and its tokens are each browser's own."""
    trainee = demo["trainee"]
    url = reading_url(trainee)
    first, templates = rendered_templates(browser(client.__class__, trainee, None), url)
    assert "runbooks/detail.html" in templates
    browsers, etags = [], {first.headers["ETag"]}
    for _n in range(20):
        secret = get_random_string(32)
        other = browser(client.__class__, trainee, secret)
        response, templates = rendered_templates(other, url)
        assert templates == []  # the kept page, with this browser's tokens put in
        etags.add(response.headers["ETag"])
        browsers.append((other, response.content.decode()))
    if settings.REDIS_URL:
        assert len(kept_in_redis(settings)) == 1
    # Each browser's ETag is its own: after its secret changes, a browser's kept
    # copy (forms bound to the old secret) is never answered "Not Modified".
    assert len(etags) == 21
    other, body = browsers[0]
    assert other.get(url, headers={"if-none-match": first.headers["ETag"]}).status_code == 200
    # The forms work for the browser they were served to, and only for it.
    assert mark_read(browsers[1][0], url, browsers[2][1]).status_code == 403
    assert mark_read(other, url, body, header=True).status_code == 302


def test_a_first_visit_without_a_csrf_cookie_is_served_the_kept_page(demo, client):
    trainee = demo["trainee"]
    url = reading_url(trainee)
    rendered_templates(browser(client.__class__, trainee, get_random_string(32)), url)
    newcomer = browser(client.__class__, trainee, None)
    response, templates = rendered_templates(newcomer, url)
    assert templates == []
    # The response sets the cookie its forms' tokens are bound to.
    assert newcomer.cookies[settings.CSRF_COOKIE_NAME].value
    assert mark_read(newcomer, url, response.content.decode()).status_code == 302


def test_one_reader_can_keep_only_so_many_pages(demo, client, monkeypatch):
    monkeypatch.setattr(reader_pages, "READER_PAGES_PER_USER", 2)
    slugs = list(Runbook.objects.order_by("slug").values_list("slug", flat=True)[:3])
    client.force_login(demo["primary"])
    renders = []
    for slug in slugs:
        url = reverse("runbooks:detail", args=[slug])
        rendered_templates(client, url)
        _again, templates = rendered_templates(client, url)
        renders.append("runbooks/detail.html" in templates)
    assert renders == [False, False, True]  # the third is rendered each time, not kept
    client.force_login(demo["lead"])  # the bound is per reader
    rendered_templates(client, url)
    assert rendered_templates(client, url)[1] == []


def kept_in_redis(settings) -> list[bytes]:
    """The keys of the reader pages this test's cache holds in Redis."""
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    shared = redis.Redis.from_url(settings.REDIS_URL)
    return list(shared.scan_iter(match=f"{prefix}:*:runbooks:reader-page:*"))


def test_a_worker_keeps_the_pages_it_served_in_front_of_the_shared_cache(demo, client, settings):
    client.force_login(demo["trainee"])
    url = reading_url(demo["trainee"])
    client.get(url)
    if settings.REDIS_URL:
        kept = kept_in_redis(settings)
        assert len(kept) == 1
        redis.Redis.from_url(settings.REDIS_URL).delete(*kept)  # gone from Redis
        _again, templates = rendered_templates(client, url)
        assert templates == []  # this worker's own copy
    else:
        assert caches["pages"]._cache is cache._cache  # one store: nothing kept twice
        cache.clear()
        _again, templates = rendered_templates(client, url)
        assert "runbooks/detail.html" in templates


@pytest.fixture
def redis_server(tmp_path):
    """A Redis server of the test's own on a free loopback port."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip

    def up() -> bool:
        try:
            return redis.Redis(port=port).ping()
        except redis.ConnectionError:
            return False

    try:
        assert wait_until(up, 10), "redis-server did not start"
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def test_the_redis_cache_makes_one_client_per_pool(redis_server):
    backend = RedisCache(redis_server, {})
    client = backend._cache.get_client("a")
    assert backend._cache.get_client("b", write=True) is client
    backend.set("shared-client", {"kept": True})
    assert backend.get("shared-client") == {"kept": True}
    assert backend._cache.get_client("c") is client


def test_the_lookups_every_visit_makes_are_prepared_on_postgresql(demo, client):
    client.force_login(demo["trainee"])
    url = reading_url(demo["trainee"])
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    # Counted and logged like any other query, on either database.
    assert ['FROM "accounts_session" s' in q["sql"] for q in queries] == [True, False]
    assert 'FROM "runbooks_runbook" r' in queries[1]["sql"]
    if connection.vendor != "postgresql":
        assert type(prepared_cursor().cursor) is type(connection.cursor().cursor)
        return  # SQLite has no statements to prepare; Django's own cursor runs them
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "runbooks_runbook" r' in statement for statement in prepared)
    assert any('FROM "accounts_session" s' in statement for statement in prepared)


def test_the_runbook_is_read_as_the_orm_reads_it(demo):
    for runbook in Runbook.objects.all()[:20]:
        plain, _shown, _read = _page_runbook(runbook.slug)
        orm = (
            Runbook.objects.select_related("team", "current_revision")
            .only(*PAGE_COLUMNS)
            .get(slug=runbook.slug)
        )
        for path in ("pk", "team_id", "current_revision_id", *PAGE_COLUMNS):
            a, b = plain, orm
            for part in path.split("__"):
                a, b = getattr(a, part, None), getattr(b, part, None)  # no team: None
            assert (a, type(a)) == (b, type(b)), path
    assert _page_runbook("no/such-runbook") is None


def test_a_user_is_read_as_the_orm_reads_it(db, django_user_model):
    user = django_user_model.objects.create_user("ann", "ann@example.com", "pw", is_staff=True)
    user.last_login = timezone.now() - timedelta(days=1)
    user.save()
    plain = user_by_id(user.pk)
    orm = django_user_model.objects.get(pk=user.pk)
    for field in django_user_model._meta.concrete_fields:
        a, b = getattr(plain, field.attname), getattr(orm, field.attname)
        assert (a, type(a)) == (b, type(b)), field.name
    assert plain.last_login.tzinfo is not None and plain.is_staff is True
    assert user_by_id(user.pk + 1000) is None


def test_an_inactive_user_is_signed_out(db, django_user_model):
    user = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    assert PasswordBackend().get_user(user.pk) == user
    user.is_active = False
    user.save()
    assert PasswordBackend().get_user(user.pk) is None
    assert PasswordBackend().get_user(user.pk + 1000) is None


def test_an_expired_session_is_not_read(db):
    store = SessionStore()
    store["note"] = "kept"
    store.set_expiry(60)
    store.save()
    assert SessionStore(store.session_key).load()["note"] == "kept"
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = SessionStore(store.session_key)
    assert expired.load() == {} and expired.session_key is None


def test_an_upgrade_keeps_everyone_signed_in(demo, client):
    """Migrations accounts 0004 (the backend a session names) and 0005 (Django's
    table to ours, with the user's id) move a session of Django's engine."""
    trainee = demo["trainee"]
    store = DjangoSessionStore()
    store[SESSION_KEY] = str(trainee.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = trainee.get_session_auth_hash()
    store.save()
    expired = DjangoSessionStore()
    expired.set_expiry(-1)
    expired.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    home = reverse("readiness:home")
    assert client.get(home).status_code == 302  # not in our table yet: signed out

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    for name in ("0004_sessions_password_backend", "0005_sessions_with_user"):
        migration = __import__(f"oncall.accounts.migrations.{name}", fromlist=["forwards"])
        migration.forwards(django_apps, editor)
    moved = Session.objects.get(session_key=store.session_key)
    assert moved.user_id == trainee.pk
    assert SessionStore(store.session_key).load()[BACKEND_SESSION_KEY] == (
        "oncall.accounts.backends.PasswordBackend"
    )
    assert not Session.objects.filter(session_key=expired.session_key).exists()
    assert not DjangoSessionStore.get_model_class().objects.exists()
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key  # dropped as unknown
    assert client.get(home).status_code == 200
    assert get_user_model().objects.get(pk=trainee.pk).is_active

    migration.backwards(django_apps, editor)  # and back again
    assert DjangoSessionStore(store.session_key).load()[SESSION_KEY] == str(trainee.pk)
    assert not Session.objects.exists()
