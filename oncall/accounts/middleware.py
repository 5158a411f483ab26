import time

from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from oncall.accounts.backends import users_read_with

KEEP = "keep_signed_in"
REFRESHED = "session_refreshed_at"
# How often a session in use has its end pushed forward: a small share of how
# long it lasts (30 days kept, 12 hours not kept; settings.py), so a session
# ends on the server within that share of when it would end unused.
REFRESH_KEPT = 24 * 60 * 60
REFRESH_NOT_KEPT = 15 * 60


def keep_signed_in(request: HttpRequest, keep: bool) -> None:
    """After a sign-in: a kept session lasts SESSION_COOKIE_AGE from the last
    visit; any other ends when the browser closes (a shared device), and on
    the server SESSION_NOT_KEPT_AGE after the last visit."""
    request.session[KEEP] = keep
    request.session[REFRESHED] = time.time()
    request.session.set_expiry(None if keep else 0)


def rolling_session(get_response):
    """Push a signed-in session's end forward while it is used.

    Saving the session on every request would do the same with a database
    write per page; a kept session (30 days) is saved at most once a day, a
    session not kept (12 hours) at most every 15 minutes.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        keep = session.get(KEEP) if session is not None else None
        if keep is not None:
            every = REFRESH_KEPT if keep else REFRESH_NOT_KEPT
            if time.time() - session.get(REFRESHED, 0) > every:
                session[REFRESHED] = time.time()
        return get_response(request)

    return middleware


class AuthenticationMiddleware(DjangoAuthentication):
    """Django's, with the user the session was read with (oncall/accounts/backends.py)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user(request))


def _user(request: HttpRequest):
    if not hasattr(request, "_cached_user"):
        with users_read_with(request.session):
            request._cached_user = auth.get_user(request)
    return request._cached_user
