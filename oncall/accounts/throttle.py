"""Password sign-in throttling, shared by every worker and machine through the cache.

After ``USERNAME_LIMIT`` failed attempts for one username, or ``ADDRESS_LIMIT``
from one address, within ``settings.THROTTLE_WINDOW`` seconds, further attempts
are refused before any password is hashed, until the window that counted them
ends. A successful sign-in clears its username's count.

Each counter is two cache entries: the count, and the moment its window ends.
The window starts with the first failure (``add`` succeeds for exactly one
process), so a burst cannot keep pushing its own end further away.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

USERNAME_LIMIT = 5
ADDRESS_LIMIT = 20


def _cache():
    return caches["throttle"]


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    # Hashed: usernames typed by strangers are not stored as they were typed.
    user_key = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    return [(f"login:user:{user_key}", USERNAME_LIMIT), (f"login:addr:{address}", ADDRESS_LIMIT)]


def client_address(request: HttpRequest) -> str:
    """The address the attempt came from.

    Behind a trusted TLS proxy (``BEHIND_TLS_PROXY``), every request arrives
    from the proxy; the client is the last address the proxy appended to
    X-Forwarded-For (earlier ones are whatever the client chose to send).
    """
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def seconds_blocked(*, username: str, address: str) -> int:
    """0 when an attempt may go ahead; otherwise the seconds until it may."""
    keys = _keys(username, address)
    names = [name for name, _limit in keys] + [f"{name}:until" for name, _limit in keys]
    values = _cache().get_many(names)
    now = time.time()
    wait = 0.0
    for name, limit in keys:
        until = values.get(f"{name}:until")
        if until is not None and until > now and values.get(name, 0) >= limit:
            wait = max(wait, until - now)
    return math.ceil(wait)


def record_failure(*, username: str, address: str) -> None:
    cache = _cache()
    window = settings.THROTTLE_WINDOW
    for name, _limit in _keys(username, address):
        if cache.add(f"{name}:until", time.time() + window, window):
            # A new window: whatever count is left from an old one is stale.
            cache.set(name, 1, window)
            continue
        try:
            cache.incr(name)
        except ValueError:  # the count expired between the two calls
            cache.set(name, 1, window)


def record_success(*, username: str) -> None:
    forget(username=username)


def forget(*, username: str = "", address: str = "") -> None:
    """Clear the counters of a username and/or an address (an admin's unblock, a test)."""
    user_key, address_key = _keys(username, address)
    names = ([user_key[0]] if username else []) + ([address_key[0]] if address else [])
    _cache().delete_many([n for name in names for n in (name, f"{name}:until")])
