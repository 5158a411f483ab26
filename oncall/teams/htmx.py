"""htmx request details that remember which headers a view looked at.

A URL that answers htmx with a fragment and a browser with the whole page
must say so in ``Vary``, or a cache (the browser's own, on Back) can hand the
fragment to a full page load. Rather than trust every view to remember, the
middleware records which ``HX-*`` headers were read while answering and
adds exactly those to ``Vary``, as Django's session middleware does for
``Cookie``.
"""

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails


class RecordingHtmxDetails(HtmxDetails):
    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request)
        self.headers_read: list[str] = []

    def _get_header_value(self, name: str) -> str | None:
        # Every HtmxDetails attribute, and its truth value, reads through here.
        if name not in self.headers_read:
            self.headers_read.append(name)
        return super()._get_header_value(name)


class HtmxVaryMiddleware:
    """django-htmx's ``request.htmx``, plus ``Vary`` for the headers a view read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.htmx = details = RecordingHtmxDetails(request)
        response = self.get_response(request)
        if details.headers_read:
            patch_vary_headers(response, details.headers_read)
        return response
