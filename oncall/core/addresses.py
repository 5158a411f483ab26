"""The address a request came from, as rate limits and sign-in throttling count it.

1. Served directly, it is the connection's address (``REMOTE_ADDR``).
2. Behind the TLS proxy (``BEHIND_TLS_PROXY=true``) every connection comes
   from the proxy, which must append the address it saw to
   ``X-Forwarded-For`` (docs/deploy.md): the last entry is that address. The
   entries before it are whatever the client sent, so they are never read.
   A request without the header counts as the proxy's own address.
3. An IPv6 address counts as its /64 network: one subscriber usually holds a
   whole /64 and may use any address in it. An IPv4 address written as IPv6
   (``::ffff:192.0.2.7``) counts as the IPv4 address.
4. A port after the address (``192.0.2.7:443``, ``[2001:db8::1]:443``) is
   dropped. Anything that is not an address counts as ``unknown``, one key
   shared by every such request, so sending different nonsense gains nothing.
"""

import ipaddress
import re

from django.conf import settings
from django.http import HttpRequest

UNKNOWN = "unknown"
BRACKETED = re.compile(r"\[([^\]]*)\](?::\d+)?")


def client_address(request: HttpRequest) -> str:
    """The address (or IPv6 /64 network) that counts for this request."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            address = hops[-1]
    return counted_as(address)


def counted_as(address: str) -> str:
    """``address`` as it counts: an IPv4 address, an IPv6 /64 network, or ``unknown``."""
    address = address.strip()
    if bracketed := BRACKETED.fullmatch(address):
        address = bracketed[1]  # [2001:db8::1]:443
    elif address.count(":") == 1:
        address = address.partition(":")[0]  # 192.0.2.7:443 (some proxies add the port)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return UNKNOWN
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
