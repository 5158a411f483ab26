"""Each reader's runbook page, rendered once and then served from the cache.

The runbook page is what the whole war room opens at once, so a reader's
page is kept whole and served again while nothing on it changes. Measured
with bench/bench_runbooks_page.py (2 cores, 5 rounds), a kept page answers
at 0.28x (PostgreSQL and Redis) to 0.32x (SQLite) the requests per second of
the static copy of itself, with or without a CSRF cookie: the speed of the
bare signed-in shell. A page rendered for each request answered at 0.09x to
0.13x (what a visit without a CSRF cookie got while the secret was in the
key). Putting a freshly masked CSRF token into each response costs about a
tenth of the kept page's speed (0.32x and 0.39x before). What keeps a kept
page correct:

- Its key holds every value that changes the bytes served, and nothing else:
  the runbook's parts (revision, language, day, template version), the path,
  the reader (id, name, staff, the team the header links to) and the panels'
  states. A page showing messages is never kept (they are shown once), nor
  one with a query string (what the reader sent is reflected in it).
- Two things belong to one response only and are put in when it is served:
  the CSP nonce, and the CSRF tokens of the page's forms and of htmx's
  header. A kept page holds a marker in their place, so one page serves a
  reader on every device and on a first visit without a CSRF cookie, and
  each response masks the token anew (as Django does, against BREACH).
- The ETag is the key's digest with the browser's CSRF secret: after the
  secret changes (signing in rotates it) the browser gets fresh forms, never
  "Not Modified" with forms bound to the old one.
- What one reader can make the cache hold is bounded: at most
  READER_PAGES_PER_USER pages kept per hour, each living an hour, so at most
  twice that at any moment. Past the bound pages are rendered, not kept.
  (An hour is well inside the week for which the reading proof in the
  "Mark as read" form, signed with the time it was rendered, is accepted.)

Tests: tests/test_runbooks_page_cache.py (served again with a new nonce and
tokens; tokens valid for each browser's secret; the bound) and
tests/test_performance_budget.py (queries and template nodes per visit).
"""

import hashlib
import re
from collections.abc import Callable

from django.contrib.messages import get_messages
from django.core.cache import cache, caches
from django.http import HttpRequest, HttpResponse
from django.middleware.csp import get_nonce
from django.middleware.csrf import get_token
from django.utils.cache import patch_cache_control
from django.utils.http import quote_etag

from oncall.teams.context_processors import header_lead_team

READER_PAGE_SECONDS = 60 * 60
READER_PAGES_PER_USER = 100
NONCE_MARKER = "\x00csp-nonce\x00"  # stand for this response's nonce and token in a kept
CSRF_MARKER = "\x00csrf-token\x00"  # page; runbook text never holds NUL (the sync refuses it)
# Where a page carries its CSRF token: Django's {% csrf_token %} input, and the
# header htmx sends (base.html). A token named anywhere else (or in another
# shape) is not found, so a page naming one more time than tokens were found
# is rendered each time rather than kept with a token of another browser.
CSRF_TOKEN = re.compile(
    r'(?<=name="csrfmiddlewaretoken" value=")[A-Za-z0-9]{64}(?=")'
    r'|(?<="x-csrftoken": ")[A-Za-z0-9]{64}(?=")'
)
CSRF_NAMES = re.compile("csrfmiddlewaretoken|x-csrftoken", re.IGNORECASE)


def page_key(request: HttpRequest, parts_key: str, states: list[str] | None) -> str | None:
    """The cache key of this reader's page, or None when the page may not be kept or
    answered "Not Modified" (a panel without a state, messages to show)."""
    if states is None or len(get_messages(request)):
        return None
    user = request.user
    lead_team = header_lead_team(user)
    shown = (
        parts_key, request.get_full_path(), user.pk, user.get_username(), user.is_staff,
        (lead_team.slug, lead_team.name) if lead_team else None, states,
    )  # fmt: skip
    digest = hashlib.sha256(repr(shown).encode()).hexdigest()[:32]
    return f"runbooks:reader-page:{user.pk}:{digest}"


def page_etag(request: HttpRequest, key: str) -> str:
    """The page's ETag: its key with the CSRF secret of this browser's cookie."""
    if "CSRF_COOKIE" not in request.META:
        get_token(request)  # a first visit: make the secret, as the page's forms would
    secret = request.META["CSRF_COOKIE"]
    return quote_etag(hashlib.sha256(f"{key}\n{secret}".encode()).hexdigest()[:32])


def reader_page(request: HttpRequest, key: str, render: Callable[[], HttpResponse]) -> HttpResponse:
    """The page kept under ``key``, with this response's nonce and CSRF token; or
    ``render()``'s, kept for next time when this reader is within the bound.

    Each worker keeps the pages it served last in its own memory (the "pages"
    cache) in front of the shared cache: a key names one page, so a copy kept
    anywhere is never stale.
    """
    nonce = get_nonce(request)
    if nonce is None:  # no CSP middleware: nothing to swap the nonce into
        return render()
    local = caches["pages"]
    kept = local.get(key)
    if kept is None:
        kept = cache.get(key)
        if kept is None:
            response = render()
            # A nonce the page never used was never made: such a page is not kept.
            kept = _with_markers(response.content.decode(), str(nonce)) if nonce else None
            if kept is not None and _within_bound(request.user.pk):
                cache.set(key, kept, READER_PAGE_SECONDS)
                local.set(key, kept, READER_PAGE_SECONDS)
            return response
        local.set(key, kept, READER_PAGE_SECONDS)
    page = kept.replace(NONCE_MARKER, str(nonce))
    if CSRF_MARKER in page:
        page = page.replace(CSRF_MARKER, get_token(request))
    return HttpResponse(page)


def _with_markers(html: str, nonce: str) -> str | None:
    """The page with markers for its nonce and CSRF tokens; None when a token
    stands where it cannot be found, so the page is rendered each time instead."""
    html, swapped = CSRF_TOKEN.subn(CSRF_MARKER, html)
    if swapped != len(CSRF_NAMES.findall(html)):
        return None
    return html.replace(nonce, NONCE_MARKER)


def _within_bound(user_pk: int) -> bool:
    """Count one more page kept for this reader; False once READER_PAGES_PER_USER
    were kept in the hour since the first. Counted where the pages are kept."""
    counter = f"runbooks:reader-pages-kept:{user_pk}"
    cache.add(counter, 0, READER_PAGE_SECONDS)
    try:
        kept = cache.incr(counter)
    except ValueError:  # expired between add and incr: a new hour
        cache.set(counter, 1, READER_PAGE_SECONDS)
        kept = 1
    return kept <= READER_PAGES_PER_USER


def revalidated(response: HttpResponse, etag: str) -> HttpResponse:
    """The browser keeps the page but asks each time (private: it is this reader's).

    ``no-cache``, not ``no-store``: a browser that keeps the page sends its
    ETag back and gets "304 Not Modified" while nothing on it changed.
    """
    response.headers["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    return response
