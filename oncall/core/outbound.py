"""The one rule for addresses the app calls out to at a URL someone typed.

Reminder webhooks, a team's Alertmanager and rotation feeds are all URLs a
person enters, and the app's server then calls them: unchecked, that would
let anyone who can type a URL reach the private network behind the server.
Each caller resolves the host once, asks ``refused`` about the addresses, and
connects to the address it checked (no second lookup for DNS to rebind).

An address is private when it is not globally routable (loopback, private,
link-local, shared, reserved), is multicast, or is an IPv4 address carried in
IPv6 (mapped, 6to4, Teredo, NAT64, IPv4-compatible) that is itself private.
``WEBHOOKS_ALLOW_PRIVATE`` lets a deployment call them all the same, for
services that live on its own network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes that carry an IPv4 address inside them (NAT64, IPv4-compatible,
# SIIT): a translator on the way may turn them into a private IPv4 address.
EMBEDDED_IPV4_NETWORKS = [
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("::ffff:0:0:0/96"),
]


def is_private(address: IPAddress) -> bool:
    """True for an address the rule keeps the app from calling."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None:
            address = address.sixtofour
        elif address.teredo is not None:
            return True
        elif any(address in network for network in EMBEDDED_IPV4_NETWORKS):
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return not address.is_global or address.is_multicast


def refused(addresses: Iterable[IPAddress]) -> bool:
    """True when the host's addresses may not be called: none at all, or any
    private one while the deployment has not allowed them."""
    addresses = list(addresses)
    if not addresses:
        return True
    return not settings.WEBHOOKS_ALLOW_PRIVATE and any(is_private(a) for a in addresses)
