"""Links in a reminder's HTML email: the site's own URLs in a line of text become links.

A reminder's body is plain text that mixes what we wrote (the runbook, shift
and console URLs) with what an alert said (labels, annotations: untrusted).
Only URLs on ``SITE_URL`` are made links; anything else, an address in an
alert's annotation included, stays text, escaped like the rest of the line.
"""

import re

from django import template
from django.conf import settings
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_URL = re.compile(r"https?://[^\s<>\"']+")
# Punctuation that ends a sentence rather than a URL.
_TRAILING = ".,;:!?)]」』。、"


def _on_site(url: str, site: str) -> bool:
    return url == site or url.startswith((f"{site}/", f"{site}?", f"{site}#"))


@register.filter
def site_links(line: str) -> SafeString:
    """``line`` escaped, with each URL on the site wrapped in ``<a href>``."""
    site = settings.SITE_URL.rstrip("/")
    pieces, position = [], 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(_TRAILING)
        if not _on_site(url, site):
            continue
        pieces.append(escape(line[position : match.start()]))
        pieces.append(format_html('<a href="{}">{}</a>', url, url))
        position = match.start() + len(url)
    pieces.append(escape(line[position:]))
    # Every piece is escaped text or format_html's output.
    return mark_safe("".join(str(piece) for piece in pieces))  # noqa: S308
