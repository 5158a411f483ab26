"""Signed-in pages are kept by no cache unless their view says otherwise.

A signed-in page shows one person's onboarding, shifts, calendar link or
team: a shared cache (a company proxy) must never keep it, and a browser
should not keep it on disk after they sign out. So an HTML response to a
signed-in request that says nothing about caching gets
``Cache-Control: private, no-store``.

A view that sets its own Cache-Control keeps it: the runbook page says
``private, no-cache`` with an ETag, so the browser keeps the page and asks
each time, and gets "304 Not Modified" while nothing changed (``no-store``
would leave it nothing to revalidate). Responses to anonymous requests
(sign-in, calendar feeds, /healthz) and static files (answered by WhiteNoise,
before this middleware) are left alone.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


def private_by_default(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if (
            not response.has_header("Cache-Control")
            and response.get("Content-Type", "").startswith("text/html")
            and getattr(request, "user", None) is not None
            and request.user.is_authenticated
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response

    return middleware
