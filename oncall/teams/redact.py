"""Calendar tokens out of logs.

A calendar feed's URL, ``/shifts/feed/<token>.ics``, is its owner's only key,
so no log line may carry it: gunicorn's access log (gunicorn.conf.py) and
Django's own request log (a 404 for a lead's token with a wrong team slug)
both write ``/shifts/feed/<token>`` instead. Loaded by logging before the
apps, so this module imports no models.
"""

import logging
import re

FEED_TOKEN = re.compile(r"(/shifts/feed/)[^/.?#\s\"']+")


def redact(text: str) -> str:
    """``text`` with every calendar token in a feed path replaced by ``<token>``."""
    return FEED_TOKEN.sub(r"\1<token>", text)


class RedactCalendarTokens(logging.Filter):
    """A logging filter that redacts feed tokens in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True
