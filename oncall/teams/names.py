"""Names people type (user and team names) and the places they travel to.

A name shows up in email subjects, calendar lines and webhook payloads. A line
break there ends a header or a calendar property early (an email can grow a
``Bcc:``, a calendar app reads half an event), so control characters are
refused where a name is typed, and stripped where a name already stored is
written out.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# C0 and C1 control characters, DEL, and the Unicode line and paragraph
# separators (which some mail and calendar readers treat as line breaks).
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"\s{2,}")


def validate_printable(value: str) -> None:
    """Refuse a name holding a line break, tab or another control character."""
    match = CONTROL_CHARACTERS.search(value or "")
    if match:
        raise ValidationError(
            _(
                "Names cannot hold line breaks, tabs or other control characters "
                "(found U+%(code)04X)."
            ),
            code="control_character",
            params={"code": ord(match.group())},
        )


def printable(value: str) -> str:
    """``value`` with each run of control characters turned into one space."""
    if not value:
        return ""
    cleaned = CONTROL_CHARACTERS.sub(" ", value)
    if cleaned == value:
        return value
    return _SPACES.sub(" ", cleaned).strip()
