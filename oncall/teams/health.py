"""What /healthz reports: the database, the broker and beat's heartbeat.

Beat sends its first heartbeat about a minute after it starts, so right after
`make run` the probe would say 503 for a minute, which looks like a failure to
someone trying the app for the first time. ``manage.py serve`` (what `make run`
runs) tells its processes when it started (``STARTED_AT_ENV``); for the first
STARTING_GRACE after that, a missing or stale heartbeat from before the start
is "starting" with 200 and the reason, while a failing database or broker is
503 as always. A server started any other way (gunicorn in production) has no
such grace.
"""

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from kombu import Connection

from oncall.teams.models import Heartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_STALE_AFTER = timedelta(minutes=3)
STARTING_GRACE = timedelta(minutes=2)
STARTED_AT_ENV = "ONCALL_STARTED_AT"  # Unix time, set by manage.py serve


def started_at() -> datetime | None:
    """When ``manage.py serve`` started this server, or None (started otherwise)."""
    value = os.environ.get(STARTED_AT_ENV, "")
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def still_starting(now: datetime) -> tuple[bool, str]:
    """Whether beat may still be on its way to its first heartbeat, and why."""
    started = started_at()
    if started is None or not timedelta(0) <= now - started < STARTING_GRACE:
        return False, ""
    beat = Heartbeat.objects.filter(name="beat").values_list("at", flat=True).first()
    if beat is not None and beat >= started:
        return False, ""
    return True, (
        f"beat has not sent its first heartbeat since the server started "
        f"{int((now - started).total_seconds())} s ago (it does within about a minute; "
        f"after {int(STARTING_GRACE.total_seconds())} s this is a failure)"
    )


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
        return False, f"unreachable: {e.__class__.__name__}"
    return True, "ok"


def check_broker() -> tuple[bool, str]:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".healthz"
        try:
            probe.write_text("ok")
            probe.unlink()
        except OSError as e:
            return False, f"folder not writable: {e.strerror}"
        return True, "ok (filesystem)"
    try:
        with Connection(url, connect_timeout=2, transport_options={"max_retries": 0}) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as e:  # noqa: BLE001
        return False, f"unreachable: {e.__class__.__name__}"
    return True, "ok"


def check_beat() -> tuple[bool, str]:
    beat = Heartbeat.objects.filter(name="beat").first()
    if beat is None:
        return False, "no heartbeat yet (is celery beat running?)"
    age = timezone.now() - beat.at
    if age > HEARTBEAT_STALE_AFTER:
        return False, f"stale: last heartbeat {int(age.total_seconds())} s ago"
    return True, f"ok ({int(age.total_seconds())} s ago)"


def report() -> tuple[bool, dict]:
    results = {"database": check_database()}
    results["broker"] = check_broker()
    results["beat"] = check_beat() if results["database"][0] else (False, "database unreachable")
    healthy = all(ok for ok, _ in results.values())
    body = {
        "status": "ok" if healthy else "failing",
        "failing": [name for name, (ok, _) in results.items() if not ok],
        "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()},
    }
    if body["failing"] == ["beat"]:
        starting, reason = still_starting(timezone.now())
        if starting:
            body.update(status="starting", failing=[], starting=["beat"], reason=reason)
            healthy = True
    return healthy, body


class HealthzMiddleware:
    """Answer ``GET /healthz`` before anything reads the ``Host`` header.

    Load balancers and orchestrators probe a machine by its address, with a
    ``Host`` the site does not serve (an IP, a pod name), and Django refuses
    hosts outside ``ALLOWED_HOSTS`` with 400. The probe carries no session and
    shows nothing secret, so this one path is answered here, first in the
    middleware list; every other path still goes through the host check.
    """

    PATH = "/healthz"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == self.PATH and request.method in ("GET", "HEAD"):
            return respond()
        return self.get_response(request)


def respond() -> JsonResponse:
    """The probe's answer: 200 when every check passes, 503 naming what fails.

    A failing probe is news, not a server error on every poll: ``note`` logs
    a warning when it starts failing and a line when it recovers, and Django's
    request logger is told this response is already accounted for.
    """
    healthy, body = report()
    response = JsonResponse(body, status=200 if healthy else 503)
    add_never_cache_headers(response)
    note(healthy, body)
    response._has_been_logged = True  # django.utils.log.log_response skips it
    return response


# What this process last said about health: (healthy, failing checks).
_last_said: tuple[bool, tuple] | None = None


def note(healthy: bool, body: dict) -> None:
    """Log a change of health once: a warning naming what fails, then the recovery."""
    global _last_said
    failing = tuple(body.get("failing", ()))
    if _last_said == (healthy, failing):
        return
    first = _last_said is None
    _last_said = (healthy, failing)
    if not healthy:
        logger.warning("healthz: failing (%s)", ", ".join(failing) or "unknown")
    elif not first:
        logger.info("healthz: healthy again")
