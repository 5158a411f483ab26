import logging
import os
import threading
import time

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import connections
from django.urls import get_resolver, reverse
from django.utils import translation

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oncall.settings")

application = get_wsgi_application()

from oncall.shifts.feeds import remember_events  # noqa: E402 - needs the apps loaded above

logger = logging.getLogger(__name__)
# How long a starting worker waits for its calendar events to be rendered.
RENDER_AHEAD_WAIT = 10.0  # s


def warm_up() -> None:
    """Do at worker start what a worker's first request would otherwise wait for.

    1. Import every URLconf and with it every view (the sign-in views bring
       the OpenID Connect client and its HTTP and JWT libraries; the shifts
       views bring icalendar): about 200 ms.
    2. Build the resolver's reverse lookup tables, which every page and each
       event of a calendar feed use.
    3. Load the translation catalogs of each language the site speaks.
    4. Render the calendar events of current shifts, in each language: a
       feed's first poll after a restart then reads them from memory like
       every later poll (bench/bench_shifts.py measures it).

    A worker must start even while the database is away or slow: step 4 runs
    in a thread of its own, waited for up to ``RENDER_AHEAD_WAIT`` seconds; a
    failure is logged, and the first polls then render their events.
    """
    get_resolver().url_patterns  # noqa: B018 - the import is the point
    reverse("shifts:detail", args=[1])
    languages = [code for code, _name in settings.LANGUAGES]
    for code in languages:
        with translation.override(code):
            translation.gettext("Shadow shift")
    ahead = threading.Thread(
        target=render_events_ahead, args=(languages,), name="render-events-ahead", daemon=True
    )
    ahead.start()
    ahead.join(RENDER_AHEAD_WAIT)


def render_events_ahead(languages: list[str]) -> None:
    started = time.monotonic()
    try:
        events = remember_events(languages=languages)
    except Exception:  # noqa: BLE001 - a cold cache is slower, not broken
        logger.warning("calendar events not rendered ahead at start", exc_info=True)
        return
    finally:
        # This thread's connection; the requests open their own.
        connections.close_all()
    logger.info("%d calendar events rendered ahead in %.2f s", events, time.monotonic() - started)


warm_up()
