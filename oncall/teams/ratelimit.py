"""Rate limits for actions that make the app send or work on someone's behalf.

Counters live in Django's cache: Redis when ``REDIS_URL`` is set, so every
gunicorn worker and every machine shares them; local memory otherwise (one
process on a laptop). A window opens at the first counted action and lasts
``period``; the action is refused once ``count`` were taken in it.

When the cache cannot be reached the action is allowed and a warning logged:
a limit protects peers and the outbox from floods, it is not worth refusing a
person's legitimate request over.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most ``count`` actions named ``name`` per ``period`` for one key."""

    name: str
    count: int
    period: timedelta

    @property
    def seconds(self) -> int:
        return max(1, int(self.period.total_seconds()))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds until the window closes, when refused

    def message(self) -> str:
        """A sentence for the person refused, in minutes when over one."""
        if self.retry_after <= 90:
            wait = ngettext("%(n)d second", "%(n)d seconds", self.retry_after) % {
                "n": self.retry_after
            }
        else:
            minutes = math.ceil(self.retry_after / 60)
            wait = ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
        return _("Try again in %(wait)s.") % {"wait": wait}


def hit(limit: Limit, key: object) -> Decision:
    """Count one action for ``key`` against ``limit``; say whether it may go ahead.

    1. ``add`` creates the window's counter and start time only when absent,
       both expiring with the window, so the first action opens it.
    2. ``incr`` is atomic in Redis and in the local-memory cache: two workers
       counting at once both count.
    3. Over the limit, the answer carries the seconds left in the window.
    """
    base = f"ratelimit:{limit.name}:{key}"
    now = time.time()
    try:
        cache.add(f"{base}:start", now, timeout=limit.seconds)
        cache.add(f"{base}:count", 0, timeout=limit.seconds)
        try:
            taken = cache.incr(f"{base}:count")
        except ValueError:  # the counter expired between add and incr: a new window
            cache.set(f"{base}:count", 1, timeout=limit.seconds)
            cache.set(f"{base}:start", now, timeout=limit.seconds)
            taken = 1
        if taken <= limit.count:
            return Decision(allowed=True)
        started = cache.get(f"{base}:start", now)
    except Exception:  # noqa: BLE001 - the cache being away must not refuse people
        logger.warning("rate limit %s: cache unavailable, allowing", limit.name, exc_info=True)
        return Decision(allowed=True)
    retry_after = max(1, math.ceil(started + limit.seconds - now))
    return Decision(allowed=False, retry_after=retry_after)


def reset(limit: Limit, key: object) -> None:
    """Forget the actions counted for ``key`` (an admin lifting a limit, or a test)."""
    base = f"ratelimit:{limit.name}:{key}"
    cache.delete_many([f"{base}:start", f"{base}:count"])
