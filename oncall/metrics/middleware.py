"""Request counts and latency by view, for Prometheus.

Labels stay few and bounded: the view's URL name (never the path, which holds
ids, slugs and calendar tokens), the method and the status code.

Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set (see gunicorn.conf.py)
each worker process writes its counts to files in that folder and /metrics
adds them up; without it (runserver, tests) they live in this process.
"""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Not registered in prometheus_client's global registry: /metrics builds a
# registry per scrape (see views.py), which is what multiprocess mode needs.
REQUESTS = Counter(
    "oncall_http_requests",
    "HTTP requests answered, by view, method and status.",
    ["view", "method", "status"],
    registry=None,
)
LATENCY = Histogram(
    "oncall_http_request_duration_seconds",
    "Time to answer an HTTP request, by view.",
    ["view"],
    registry=None,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def view_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"  # a 404 from no route, or a request refused before routing
    return match.view_name


class RequestMetricsMiddleware:
    """Count each request and time it, by the view that answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        view = view_label(request)
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(view=view, method=method, status=str(response.status_code)).inc()
        LATENCY.labels(view=view).observe(time.perf_counter() - started)
        return response
