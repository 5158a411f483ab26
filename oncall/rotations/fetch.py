"""Fetching a rotation's feed: conditional, bounded, and only from public addresses.

1. ``webcal://`` means ``https://``; other schemes than http(s) are refused.
2. The host is resolved once and every address checked as the webhooks'
   are (``WEBHOOKS_ALLOW_PRIVATE`` lifts the check); the request then goes to
   that very address, so a second lookup cannot swap in another (DNS
   rebinding). TLS is still checked against the host name.
3. ``If-None-Match`` / ``If-Modified-Since`` from the last read: a 304 costs
   one round trip and no parsing.
4. At most 5 seconds in all and at most 2 MiB, read in chunks: a feed that
   drips or swells is cut off, not waited for.
5. Redirects are followed (at most 3), each hop checked like the first.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from oncall.core import outbound
from oncall.rotations.errors import FeedError

TIMEOUT_SECONDS = 5
MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 3
CHUNK = 64 * 1024
USER_AGENT = "oncall-rotations/1 (+iCalendar reader)"


@dataclass(frozen=True)
class Fetched:
    """What the feed answered: ``body`` is None when it said 304 Not Modified."""

    body: bytes | None
    etag: str
    last_modified: str


def normalise_url(url: str) -> str:
    """The URL as it is fetched (``webcal://`` → ``https://``), or ``FeedError("bad_url")``."""
    url = url.strip()
    if url.lower().startswith("webcal://"):
        url = "https://" + url[len("webcal://") :]
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as e:
        raise FeedError("bad_url") from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FeedError("bad_url")
    return url


def resolve(url: str) -> tuple[str, str]:
    """(host name, address to connect to) for ``url``, after the address check."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        # One sentence for a name that does not resolve and one we refuse:
        # telling them apart would map the internal network's DNS.
        raise FeedError("not_allowed", host=host) from e
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if outbound.refused(addresses):
        raise FeedError("not_allowed", host=host)
    return host, str(addresses[0])


class PinnedAdapter(HTTPAdapter):
    """Connects to the address ``resolve`` checked, whatever DNS says next."""

    def __init__(self, host: str, address: str) -> None:
        self.host, self.address = host, address
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        host_params["host"] = self.address
        if host_params.get("scheme") == "https":
            pool_kwargs["server_hostname"] = self.host
            pool_kwargs["assert_hostname"] = self.host
        return host_params, pool_kwargs


def fetch(url: str, *, etag: str = "", last_modified: str = "") -> Fetched:
    """GET the feed with the validators of the last read; ``FeedError`` says what went wrong."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    url = normalise_url(url)
    for _hop in range(MAX_REDIRECTS + 1):
        host, address = resolve(url)
        parts = urlsplit(url)
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "text/calendar, */*;q=0.5",
            "Host": parts.netloc.rpartition("@")[2],
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        with requests.Session() as session:
            session.trust_env = False  # no proxy from the environment: the address is checked
            session.mount(f"{parts.scheme}://", PinnedAdapter(host, address))
            try:
                response = session.get(
                    urlunsplit(parts._replace(fragment="")),
                    headers=headers,
                    stream=True,
                    allow_redirects=False,
                    timeout=max(0.1, deadline - time.monotonic()),
                )
            except requests.Timeout as e:
                raise FeedError("timeout", seconds=TIMEOUT_SECONDS) from e
            except requests.RequestException as e:
                raise FeedError("unreachable", host=host, reason=type(e).__name__) from e
            with response:
                if response.is_redirect and "Location" in response.headers:
                    url = normalise_url(urljoin(url, response.headers["Location"]))
                    continue
                if response.status_code == 304:
                    return Fetched(None, etag, last_modified)
                if response.status_code != 200:
                    raise FeedError("status", status=response.status_code)
                body = _read_capped(response, deadline)
                return Fetched(
                    body,
                    response.headers.get("ETag", "")[:200],
                    response.headers.get("Last-Modified", "")[:100],
                )
    raise FeedError("redirects", count=MAX_REDIRECTS)


def _read_capped(response: requests.Response, deadline: float) -> bytes:
    limit = "2 MiB"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise FeedError("too_large", limit=limit)
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > MAX_BYTES:
                raise FeedError("too_large", limit=limit)
            if time.monotonic() > deadline:
                raise FeedError("timeout", seconds=TIMEOUT_SECONDS)
            chunks.append(chunk)
    except requests.RequestException as e:
        if isinstance(e, requests.ConnectionError) and "timed out" in str(e).lower():
            raise FeedError("timeout", seconds=TIMEOUT_SECONDS) from e
        raise FeedError(
            "unreachable", host=urlsplit(response.url).hostname or "", reason=type(e).__name__
        ) from e
    return b"".join(chunks)
