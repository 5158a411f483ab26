import time

from django.http import HttpRequest, HttpResponse

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
