"""Password sign-in throttling, shared by every worker and machine.

After ``USERNAME_LIMIT`` failed attempts for one username, or ``ADDRESS_LIMIT``
from one address, within ``settings.THROTTLE_WINDOW`` seconds, further attempts
are refused before any password is hashed, until the window that counted them
ends. A successful sign-in clears its username's count.

The counts are oncall/core/counters.py's: in Redis when there is one,
otherwise in the database, never evicted while their window is open. A window
starts with the first failure, so a burst cannot keep pushing its own end
further away. The address is oncall/core/addresses.py's (an IPv6 client
counts by its /64 network).
"""

import hashlib

from django.conf import settings

from oncall.core import counters

USERNAME_LIMIT = 5
ADDRESS_LIMIT = 20


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    # Hashed: usernames typed by strangers are not stored as they were typed.
    user_key = hashlib.sha256(username.strip().lower().encode("utf-8", "surrogatepass"))
    return [
        (f"login:user:{user_key.hexdigest()}", USERNAME_LIMIT),
        (f"login:addr:{address}", ADDRESS_LIMIT),
    ]


def seconds_blocked(*, username: str, address: str) -> int:
    """0 when an attempt may go ahead; otherwise the seconds until it may."""
    keys = _keys(username, address)
    windows = counters.read(name for name, _limit in keys)
    return max(
        (
            windows[name].seconds_left()
            for name, limit in keys
            if name in windows and windows[name].count >= limit
        ),
        default=0,
    )


def record_failure(*, username: str, address: str) -> None:
    for name, _limit in _keys(username, address):
        counters.add_one(name, seconds=settings.THROTTLE_WINDOW)


def record_success(*, username: str) -> None:
    forget(username=username)


def forget(*, username: str = "", address: str = "") -> None:
    """Clear the counters of a username and/or an address (an admin's unblock, a test)."""
    user_key, address_key = _keys(username, address)
    counters.forget(([user_key[0]] if username else []) + ([address_key[0]] if address else []))
