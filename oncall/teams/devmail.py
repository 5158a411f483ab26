"""The email backend used until SMTP is configured: one file per message, one log line.

Printing whole messages on the console (Django's console backend) buried the
worker's log under MIME text. Each message is written to its own ``.eml``
file, which any mail client opens, and the log says who it was for and where
it is.
"""

import logging
import re
from datetime import UTC, datetime
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend

log = logging.getLogger(__name__)


class EmailBackend(BaseEmailBackend):
    def __init__(self, *args, folder, **kwargs):
        super().__init__(*args, **kwargs)
        self.folder = Path(folder)

    def send_messages(self, email_messages):
        self.folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            path = self._free_path(message.subject)
            path.write_bytes(message.message().as_bytes())
            log.info(
                "email to %s: %s (not sent: no EMAIL_HOST; saved as %s)",
                ", ".join(message.recipients()),
                message.subject,
                path,
            )
            sent += 1
        return sent

    def _free_path(self, subject):
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        words = re.sub(r"[^A-Za-z0-9]+", "-", subject).strip("-")[:40] or "message"
        return self.folder / f"{stamp}-{words.lower()}.eml"
