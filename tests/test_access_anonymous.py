"""Every page needs a signed-in user, except the few that must not."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

# Views an anonymous visitor may reach: health probes, signing in, calendar
# the way to and back from the identity provider, apps fetching a feed with
# its secret token, Alertmanager posting and Prometheus scraping with their
# bearer tokens (401 without one, see test_alerts_receiver.py and
# test_metrics.py), the language switch (it is on the sign-in page too, see
# test_i18n_language.py), and the static fallbacks.
PUBLIC = {
    "healthz",
    "set_language",
    "login",
    "logout",
    "sso_start",
    "sso_callback",
    "alerts:alertmanager",
    "metrics",
}
PUBLIC_PREFIXES = ("shifts:feed",)


def walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), f"{namespace}{p.name}" if p.name else None


def concrete(route: str) -> str:
    """Turn a route into a path by filling each converter with a sample value."""
    samples = {"int": "1", "slug": "payments", "str": "Sample", "path": "a/b", "uuid": "0" * 32}
    path = re.sub(
        r"<(?:(\w+):)?(\w+)>",
        lambda m: samples.get(m.group(1) or "str", "x"),
        route,
    )
    path = path.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\", "")
    return "/" + path


def app_routes():
    for route, name in walk(get_resolver().url_patterns):
        if route.startswith("admin/") or "(?P" in route:
            continue
        if name in PUBLIC or (name and name.startswith(PUBLIC_PREFIXES)):
            continue
        yield pytest.param(concrete(route), id=name or route)


@pytest.mark.parametrize("path", list(app_routes()))
def test_it_sends_anonymous_visitors_to_sign_in(client, db, path):
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 302, f"{method.__name__.upper()} {path}"
        assert response["Location"].startswith(reverse("login") + "?next="), path
