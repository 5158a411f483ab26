import hashlib
import hmac
import os

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from oncall.metrics.collector import AppCollector
from oncall.metrics.middleware import LATENCY, REQUESTS


def registry_for_scrape() -> CollectorRegistry:
    """A registry for one scrape: request metrics and the database's figures.

    Under gunicorn (``PROMETHEUS_MULTIPROC_DIR`` set) the request metrics are
    the sum of every worker's files; otherwise this process's own.
    """
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(AppCollector())
    return registry


def _token_matches(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Digests of equal length: the comparison takes the same time whatever
    # was sent, and says nothing about the token's length either.
    return hmac.compare_digest(
        hashlib.sha256(given.strip().encode()).digest(),
        hashlib.sha256(token.encode()).digest(),
    )


@login_not_required
@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for a scraper holding ``METRICS_TOKEN`` (404 when unset)."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    if not _token_matches(request.headers.get("Authorization", ""), token):
        response = HttpResponse(
            "Send the metrics token: Authorization: Bearer <METRICS_TOKEN>\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="oncall metrics"'
        return response
    return HttpResponse(generate_latest(registry_for_scrape()), content_type=CONTENT_TYPE_LATEST)
