"""Posting alerts to a team's own Alertmanager (``POST <url>/api/v2/alerts``).

Drills use it: a drill's alerts go to the team's Alertmanager so they take its
routes like real ones, and come back through the receiver labelled with their
drill. An Alertmanager URL is typed by a lead, so it follows the rule the
reminders app applies to webhook URLs (oncall/core/outbound.py):

1. Only http and https URLs that name a host.
2. The host is resolved once; an address that is loopback, private,
   link-local, multicast or otherwise not public is refused unless the
   operator set WEBHOOKS_ALLOW_PRIVATE (an Alertmanager usually lives on the
   private network, so a deployment that uses this sets it).
3. The request goes to that very address (no second lookup to rebind).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from oncall.core import outbound

API_PATH = "/api/v2/alerts"
TIMEOUT = 5  # seconds, for the whole call
MAX_ANSWER = 2000  # bytes of an error answer kept for the reason


class AlertmanagerError(Exception):
    """A post that did not reach or was refused by the Alertmanager; the message says why."""


def resolve(url: str) -> tuple[str, int, str, str, str]:
    """Check an Alertmanager URL and pick the address to call:
    (scheme, host, port, ip, path of the alerts API); AlertmanagerError naming the problem."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise AlertmanagerError(
            _("The Alertmanager URL is not valid: %(error)s") % {"error": e}
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertmanagerError(
            _("An Alertmanager URL starts with http:// or https:// and names a host.")
        )
    if parts.query or parts.fragment:
        raise AlertmanagerError(_("An Alertmanager URL has no query (?) or fragment (#)."))
    port = port or (443 if parts.scheme == "https" else 80)
    # One sentence for a name that does not resolve and one that resolves to an
    # address we refuse: telling them apart would map the internal network's DNS.
    unreachable = _(
        "The Alertmanager host %(host)s is not allowed or cannot be found: only public "
        "internet addresses, unless the operator sets WEBHOOKS_ALLOW_PRIVATE."
    ) % {"host": parts.hostname}
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        raise AlertmanagerError(unreachable) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if outbound.refused(addresses):
        raise AlertmanagerError(unreachable)
    path = parts.path.rstrip("/") + API_PATH
    return parts.scheme, parts.hostname, port, str(addresses[0]), path


def check_url(url: str) -> None:
    """AlertmanagerError naming the problem when drills may not post to ``url``."""
    resolve(url)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, ip: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.pinned_ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned_ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, ip: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.pinned_ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned_ip, self.port), self.timeout)
        # The certificate is checked against the host name, not the address.
        self.sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)


def post_alerts(url: str, alerts: list[dict], *, timeout: float = TIMEOUT) -> None:
    """POST ``alerts`` (Alertmanager's API v2 shape) to the Alertmanager at ``url``.

    Returns when it answered 200; otherwise AlertmanagerError naming what failed:
    the URL refused, the connection, the timeout, or the status and its answer.
    """
    scheme, host, port, ip, path = resolve(url)
    kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = kind(host, port, ip=ip, timeout=timeout)
    body = json.dumps(alerts).encode()
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        text = answer.read(MAX_ANSWER).decode("utf-8", "replace")
    except TimeoutError:
        raise AlertmanagerError(
            _("Alertmanager at %(host)s did not answer within %(seconds)s seconds")
            % {"host": host, "seconds": timeout}
        ) from None
    except (OSError, http.client.HTTPException) as e:
        raise AlertmanagerError(
            _("could not reach Alertmanager at %(host)s: %(error)s")
            % {"host": host, "error": str(e)[:200] or type(e).__name__}
        ) from None
    finally:
        connection.close()
    if answer.status != 200:
        raise AlertmanagerError(
            _("Alertmanager at %(host)s answered %(status)s: %(text)s")
            % {"host": host, "status": answer.status, "text": " ".join(text.split())[:200]}
        )
