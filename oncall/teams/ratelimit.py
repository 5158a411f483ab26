"""Rate limits for actions that make the app send or work on someone's behalf.

The counts are oncall/core/counters.py's, shared by every gunicorn worker and
every machine: in Redis when ``REDIS_URL`` is set, otherwise in the database,
and never evicted while their window is open. A window opens at the first
counted action and lasts ``period``; the action is refused once ``count`` were
taken in it.

When the store cannot be reached the action is allowed and a warning logged:
a limit protects peers and the outbox from floods, it is not worth refusing a
person's legitimate request over.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from oncall.core import counters

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

    Over the limit, the answer carries the seconds left in the window. Every
    action is counted, refused ones too: a client that keeps trying stays
    refused until the window ends.
    """
    try:
        window = counters.add_one(_name(limit, key), seconds=limit.seconds)
    except Exception:  # noqa: BLE001 - the store being away must not refuse people
        logger.warning("rate limit %s: counters unavailable, allowing", limit.name, exc_info=True)
        return Decision(allowed=True)
    if window.count <= limit.count:
        return Decision(allowed=True)
    return Decision(allowed=False, retry_after=window.seconds_left())


def reset(limit: Limit, key: object) -> None:
    """Forget the actions counted for ``key`` (an admin lifting a limit, or a test)."""
    counters.forget([_name(limit, key)])


def _name(limit: Limit, key: object) -> str:
    return f"ratelimit:{limit.name}:{key}"
