import time

from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from oncall.accounts.backends import users_read_with

KEEP = "keep_signed_in"
REFRESHED = "session_refreshed_at"
REFRESH_EVERY = 24 * 60 * 60


def keep_signed_in(request: HttpRequest, keep: bool) -> None:
    """After a sign-in: a kept session lasts SESSION_COOKIE_AGE from the last
    visit; any other ends when the browser closes (a shared device)."""
    request.session[KEEP] = keep
    request.session[REFRESHED] = time.time()
    request.session.set_expiry(None if keep else 0)


def rolling_session(get_response):
    """Push a kept session's end forward, at most once a day.

    Saving the session on every request would do the same with a database
    write per page; once a day is enough for a 30-day session.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        kept = session is not None and session.get(KEEP)
        if kept and time.time() - session.get(REFRESHED, 0) > REFRESH_EVERY:
            session[REFRESHED] = time.time()
            session.set_expiry(None)
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
