"""Channels: how one reminder leaves the building, by email or by webhook.

Each sender either returns (the peer accepted it) or raises
``TransientError`` (try again later) or ``PermanentError`` (trying again
cannot help: a refused address, a webhook answering 4xx, a URL we will not
call). Both carry the same idempotency token on every attempt: the
Message-ID of the email, the Idempotency-Key of the webhook request.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import smtplib
import socket
import ssl
import threading
from datetime import UTC
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from oncall.core import outbound
from oncall.reminders.models import Reminder
from oncall.teams.language import speaking
from oncall.teams.names import printable

WEBHOOK_TIMEOUT = 5  # seconds, for the whole request
WEBHOOK_RETRY_STATUSES = {408, 425, 429}
USER_AGENT = "oncall-reminders/1"


class DeliveryError(Exception):
    pass


class TransientError(DeliveryError):
    pass


class PermanentError(DeliveryError):
    pass


# --- email -------------------------------------------------------------------


def build_email(reminder: Reminder) -> EmailMultiAlternatives:
    with speaking(reminder.recipient):
        return _build_email(reminder)


def _build_email(reminder: Reminder) -> EmailMultiAlternatives:
    context = {"reminder": reminder, "recipient": reminder.recipient}
    message = EmailMultiAlternatives(
        # A subject carries people's names; one with a line break stored before
        # names were checked would make Django refuse the header.
        subject=printable(reminder.subject),
        body=render_to_string("reminders/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[reminder.recipient.email],
        headers={
            # The same on every attempt: a receiving system that saw it
            # already can drop the copy a crash made us send twice.
            "Message-ID": reminder.message_id,
            "X-Oncall-Reminder": reminder.kind,
        },
    )
    message.attach_alternative(render_to_string("reminders/email.html", context), "text/html")
    return message


def send_email(
    reminder: Reminder, *, mailer, message: EmailMultiAlternatives | None = None
) -> None:
    """Send through an open mailer connection; classify what went wrong.

    4xx SMTP replies and lost connections are transient; 5xx replies and
    addresses that cannot be written are permanent.
    """
    if not reminder.recipient.email:
        raise PermanentError(_("The recipient has no email address."))
    try:
        if message is None:
            message = build_email(reminder)
        mailer.send_messages([message])
    except ValueError as e:  # an address Django cannot encode
        raise PermanentError(str(e)) from e
    except smtplib.SMTPRecipientsRefused as e:
        codes = [code for code, _msg in e.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {msg!r}" for addr, (code, msg) in e.recipients.items())
        if all(code >= 500 for code in codes):
            raise PermanentError(f"refused: {detail}") from e
        raise TransientError(f"refused for now: {detail}") from e
    except smtplib.SMTPResponseException as e:
        close_mailer(mailer)
        error = f"SMTP {e.smtp_code}: {e.smtp_error!r}"
        if e.smtp_code >= 500:
            raise PermanentError(error) from e
        raise TransientError(error) from e
    except (smtplib.SMTPException, OSError) as e:
        # A dropped connection: the next message opens a fresh one.
        close_mailer(mailer)
        raise TransientError(f"{e.__class__.__name__}: {e}") from e


def open_mailer(mailer) -> None:
    """Keep one connection open for a batch; a failure here shows up per message."""
    try:
        mailer.open()
    except (smtplib.SMTPException, OSError):
        close_mailer(mailer)


def close_mailer(mailer) -> None:
    try:
        mailer.close()
    except (smtplib.SMTPException, OSError):
        mailer.connection = None


# --- webhook -----------------------------------------------------------------


def webhook_body(reminder: Reminder) -> dict:
    """Slack-compatible ``text`` plus the structured fields other tools want."""
    text = f"*{reminder.subject}*"
    if reminder.body:
        text += f"\n{reminder.body}"
    if reminder.link:
        with speaking(reminder.recipient):
            label = _("Open in oncall")
        text += f"\n<{reminder.link}|{label}>"
    return {
        "text": text,
        "id": reminder.message_token,
        "kind": reminder.kind,
        "subject": reminder.subject,
        "body": reminder.body,
        "link": reminder.link,
        "due_at": reminder.due_at.astimezone(UTC).isoformat(),
        "recipient": reminder.recipient.get_username(),
        "fields": reminder.payload,
    }


def resolve_webhook(url: str) -> tuple[str, int, str, str]:
    """Check a webhook URL and pick the address to call: (host, port, ip, path).

    1. Only http and https URLs with a host name are called.
    2. The host is resolved once; if any address is loopback, private,
       link-local, multicast or otherwise not public, the URL is refused
       unless the operator set WEBHOOKS_ALLOW_PRIVATE.
    3. The request then goes to that very address, so a second lookup cannot
       swap in another one (DNS rebinding).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise PermanentError(_("The webhook URL is not valid: %(error)s") % {"error": e}) from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentError(_("A webhook URL starts with http:// or https:// and names a host."))
    port = port or (443 if parts.scheme == "https" else 80)
    # One sentence for a name that does not resolve and for one that resolves
    # to an address we refuse: telling them apart would let anyone who can
    # save a webhook URL map the internal network's DNS.
    unreachable = _(
        "The webhook host %(host)s is not allowed or cannot be found: webhooks go to "
        "public internet addresses only."
    ) % {"host": parts.hostname}
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        if e.errno in NAME_NOT_FOUND:
            raise PermanentError(unreachable) from e
        raise TransientError(unreachable) from e
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if outbound.refused(addresses):
        raise PermanentError(unreachable)
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return parts.hostname, port, str(addresses[0]), path


# getaddrinfo's answers for "no such name": as final as a refused address.
NAME_NOT_FOUND = {
    code
    for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None))
    if code is not None
}


def _cut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, ip: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, ip: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        # The certificate is checked against the host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def prepare(reminder: Reminder) -> EmailMultiAlternatives | bytes:
    """What the reminder's channel will send, built before any network call.

    Anything wrong with the row itself (a missing profile, a template that
    cannot render) shows up here, where dispatch can fail that one row.
    """
    if reminder.channel == Reminder.Channel.EMAIL:
        if not reminder.recipient.email:
            raise PermanentError(_("The recipient has no email address."))
        return build_email(reminder)
    if not reminder.recipient.profile.webhook_url:
        raise PermanentError(_("No webhook URL is set."))
    return json.dumps(webhook_body(reminder)).encode()


def send(reminder: Reminder, prepared: EmailMultiAlternatives | bytes, *, mailer) -> None:
    """Send what ``prepare`` built through the reminder's channel."""
    if reminder.channel == Reminder.Channel.EMAIL:
        send_email(reminder, mailer=mailer, message=prepared)
    else:
        send_webhook(reminder, body=prepared)


def send_webhook(reminder: Reminder, url: str | None = None, *, body: bytes | None = None) -> None:
    """POST the reminder as JSON; 2xx is delivered, 5xx/408/429 retry, the rest fail."""
    url = url if url is not None else reminder.recipient.profile.webhook_url
    if not url:
        raise PermanentError(_("No webhook URL is set."))
    host, port, ip, path = resolve_webhook(url)
    scheme = urlsplit(url).scheme
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, ip=ip, timeout=WEBHOOK_TIMEOUT)
    if body is None:
        body = json.dumps(webhook_body(reminder)).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": reminder.message_token,
        "User-Agent": USER_AGENT,
    }
    # The socket timeout bounds each read; a peer trickling a byte every few
    # seconds would never hit it, so a timer cuts the whole exchange at the limit.
    watchdog = threading.Timer(WEBHOOK_TIMEOUT, _cut, args=[connection])
    watchdog.start()
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read(500).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise TransientError(f"{e.__class__.__name__}: {e}") from e
    finally:
        watchdog.cancel()
        connection.close()
    status = response.status
    if 200 <= status < 300:
        return
    error = f"HTTP {status}: {answer[:200]}".strip()
    if status >= 500 or status in WEBHOOK_RETRY_STATUSES:
        raise TransientError(error)
    # 3xx too: following a redirect could lead to an address we refuse.
    raise PermanentError(error)
