"""Counters that every worker and machine shares: rate limits and sign-in throttling.

A counter counts the actions taken under one key in a window that opens with
the first of them and lasts a given number of seconds; the first action after
the window has ended opens a new one. Two stores, by configuration:

- **Redis**, when the default cache is Redis (``REDIS_URL``): one key per
  counter, under the cache's key prefix. A Lua script increments it and, at
  the first action, sets its expiry in the same step. (Django's cache API
  checks that a key exists and increments it in two calls: a key that expires
  between them comes back without an expiry, and would count for ever.)
- **The database** otherwise (``core.Counter``): one row per counter,
  incremented by a conditional UPDATE, so every process that shares the
  database counts together. A window that has ended is reset in place, and
  opening a window deletes up to ``SWEEP`` rows whose windows have ended, so
  the table holds about the live counters and no more.

Neither store evicts a live counter, which would lift a sign-in block or a
limit early: rows are deleted only once their window has ended, and Redis
runs with ``maxmemory-policy noeviction`` (docs/deploy.md). A key that is
long or not plain text is stored by its SHA-256.
"""

import functools
import hashlib
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, transaction
from django.db.models import F
from redis.commands.core import Script

from oncall.core.models import Counter

SWEEP = 100  # ended rows deleted each time a window opens
ATTEMPTS = 3  # a window opened by another process meanwhile is counted in: try again
MAX_KEY = 200
PLAIN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space
REDIS_TIMEOUT = 5  # seconds for a call to Redis

# KEYS[1] is the count. ARGV[1] the window in milliseconds. Returns the count
# and the milliseconds left in its window.
ADD_ONE = """
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if count == 1 or left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
"""


@dataclass(frozen=True)
class Window:
    """The actions counted so far in a counter's window, and when it ends."""

    count: int
    ends_at: float  # seconds since the epoch

    def seconds_left(self) -> int:
        """Whole seconds until the window ends, at least 1."""
        return max(1, math.ceil(self.ends_at - time.time()))


def add_one(key: str, *, seconds: int) -> Window:
    """Count one action under ``key``; a window of ``seconds`` opens if none is open."""
    client = _redis()
    if client is not None:
        count, left = _add_one_script(client)(keys=[_redis_key(key)], args=[seconds * 1000])
        return Window(int(count), time.time() + int(left) / 1000)
    return _add_one_in_database(_stored_key(key), seconds)


def read(keys: Iterable[str]) -> dict[str, Window]:
    """The open windows of these counters, by key (a counter with none is left out)."""
    keys = list(keys)
    client = _redis()
    if client is not None:
        pipeline = client.pipeline(transaction=False)
        for key in keys:
            pipeline.get(_redis_key(key))
            pipeline.pttl(_redis_key(key))
        answers = pipeline.execute()
        now = time.time()
        return {
            key: Window(int(count), now + left / 1000)
            for key, count, left in zip(keys, answers[::2], answers[1::2], strict=True)
            if count is not None and left > 0
        }
    stored = {_stored_key(key): key for key in keys}
    rows = Counter.objects.filter(key__in=stored, ends_at__gt=_moment(time.time()))
    return {
        stored[key]: Window(count, ends_at.timestamp())
        for key, count, ends_at in rows.values_list("key", "count", "ends_at")
    }


def forget(keys: Iterable[str]) -> None:
    """Close these counters' windows now (an admin lifting a block, a success, a test)."""
    keys = list(keys)
    if not keys:
        return
    client = _redis()
    if client is not None:
        client.delete(*(_redis_key(key) for key in keys))
        return
    Counter.objects.filter(key__in=[_stored_key(key) for key in keys]).delete()


def _add_one_in_database(key: str, seconds: int) -> Window:
    """One action counted in ``core.Counter``.

    1. A row whose window is open: add one to it (a conditional UPDATE, which
       concurrent processes wait on and all apply), then read what it holds.
    2. A row whose window has ended: reset it to 1 with a new end.
    3. No row: insert one at 1; when another process inserted it meanwhile,
       start again at 1 and count in its window.
    4. After an insert, delete a few rows whose windows have ended.
    """
    now = time.time()
    start, end = _moment(now), _moment(now + seconds)
    for _attempt in range(ATTEMPTS):
        with transaction.atomic():
            open_window = Counter.objects.filter(key=key, ends_at__gt=start)
            if open_window.update(count=F("count") + 1):
                count, ends_at = open_window.values_list("count", "ends_at").get()
                return Window(count, ends_at.timestamp())
            if Counter.objects.filter(key=key, ends_at__lte=start).update(count=1, ends_at=end):
                return Window(1, now + seconds)
            try:
                with transaction.atomic():
                    Counter.objects.create(key=key, count=1, ends_at=end)
            except IntegrityError:
                continue
        _sweep(start)
        return Window(1, now + seconds)
    raise RuntimeError(f"counter {key!r}: no window could be opened or counted in")


def _sweep(now: datetime) -> None:
    ended = list(Counter.objects.filter(ends_at__lte=now).values_list("key", flat=True)[:SWEEP])
    if ended:
        # The end is checked again as each row is deleted: one reset meanwhile stays.
        Counter.objects.filter(key__in=ended, ends_at__lte=now).delete()


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _stored_key(key: str) -> str:
    if len(key) <= MAX_KEY and PLAIN.fullmatch(key):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _redis_key(key: str) -> str:
    return caches[DEFAULT_CACHE_ALIAS].make_key(f"{_stored_key(key)}:count")


def _redis() -> redis.Redis | None:
    """The Redis the default cache uses, or None when that cache is not Redis."""
    if not isinstance(caches[DEFAULT_CACHE_ALIAS], RedisCache):
        return None
    location = settings.CACHES[DEFAULT_CACHE_ALIAS]["LOCATION"]
    if not isinstance(location, str):
        location = location[0]
    return _client(re.split("[;,]", location)[0])


@functools.cache
def _add_one_script(client: redis.Redis) -> Script:
    return client.register_script(ADD_ONE)


@functools.cache
def _client(url: str) -> redis.Redis:
    # One client per process and server: redis-py's pool gives each command a
    # connection, and opens new ones in a forked worker.
    return redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
    )
