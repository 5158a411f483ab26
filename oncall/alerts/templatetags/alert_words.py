"""Alert label values people read: the well-known severities in the reader's language."""

from django import template
from django.utils.translation import pgettext

register = template.Library()


def severity_label(value: str) -> str:
    """The common severities translated; any other value as the alert sent it."""
    known = {
        "critical": pgettext("severity", "critical"),
        "warning": pgettext("severity", "warning"),
        "info": pgettext("severity", "info"),
        "none": pgettext("severity", "none"),
    }
    return known.get(str(value).lower(), str(value))


register.filter("severity", severity_label)
