"""Where a person lands after signing in."""

import copy
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme

ALERT_VIEW = "runbooks:alert"


def safe_next(request: HttpRequest, value: str | None) -> str:
    """``value`` when it points into this site, otherwise "" (an off-site next is ignored)."""
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return ""


def waiting_alert(next_url: str) -> str:
    """The alert name when ``next_url`` is an alert link (``/runbooks/alert/<name>``)."""
    if not next_url:
        return ""
    try:
        match = resolve(urlsplit(next_url).path)
    except Resolver404:
        return ""
    return match.kwargs.get("alertname", "") if match.view_name == ALERT_VIEW else ""


def landing_url(request: HttpRequest, next_url: str) -> str:
    """The page to open once ``request.user`` is signed in.

    An alert link is followed here, so the person lands on the runbook itself
    rather than on a redirect chain: the runbooks app's own alert view is asked
    (the one rule for which runbook answers an alert), and when it answers with
    a redirect, that is where the person goes. When it lists several runbooks
    or none, the alert link itself is the landing page.
    """
    next_url = safe_next(request, next_url)
    if not next_url:
        return resolve_url(settings.LOGIN_REDIRECT_URL)
    if not waiting_alert(next_url):
        return next_url
    parts = urlsplit(next_url)
    match = resolve(parts.path)
    lookup = copy.copy(request)
    lookup.method = "GET"
    lookup.path = lookup.path_info = parts.path
    lookup.GET = QueryDict(parts.query)
    lookup.POST = QueryDict()
    response = match.func(lookup, *match.args, **match.kwargs)
    if response.status_code == 302:
        return response["Location"]
    return next_url
