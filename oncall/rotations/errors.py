"""What can go wrong reading a rotation's feed, said in words a lead understands.

An error is stored as a code and its details (``Rotation.error_code`` and
``error_params``) and put into words when a page shows it, so each reader
sees it in their own language. Nothing a feed sends is ever marked safe: the
details are plain text that templates escape.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class FeedError(Exception):
    """A feed that cannot be read as it stands: the rotation keeps its previous shifts."""

    def __init__(self, code: str, **params) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        return describe(self.code, self.params)


def describe(code: str, params: dict) -> str:
    """The sentence for an error code (in the active language)."""
    p = dict(params)
    if code == "status":
        return _("The feed answered %(status)s.") % p
    if code == "timeout":
        return _("The feed did not answer within %(seconds)s seconds.") % p
    if code == "too_large":
        return _("The feed is larger than %(limit)s; it was not read.") % p
    if code == "unreachable":
        return _("The feed's host %(host)s cannot be reached: %(reason)s") % p
    if code == "not_allowed":
        return (
            _(
                "The feed's host %(host)s is not allowed or cannot be found: feeds are read "
                "from public internet addresses only."
            )
            % p
        )
    if code == "bad_url":
        return _("The feed URL is not valid: it starts with http://, https:// or webcal://.")
    if code == "redirects":
        return _("The feed redirected more than %(count)s times.") % p
    if code == "not_ical":
        return _("The feed is not an iCalendar file (%(detail)s).") % p
    if code == "no_end":
        return _("The event “%(event)s” has no end.") % p
    if code == "ends_before_start":
        return _("The event “%(event)s” ends before it starts.") % p
    if code == "too_long":
        return _("The event “%(event)s” lasts longer than %(days)s days.") % p
    if code == "too_many":
        return (
            _("The feed has more than %(limit)s events (or repetitions of them); it was not read.")
            % p
        )
    if code == "bad_rule":
        return _("The repetition rule of the event “%(event)s” cannot be read: %(detail)s") % p
    if code == "empty":
        return (
            ngettext(
                "The feed has no event in the next %(days)s day.",
                "The feed has no event in the next %(days)s days.",
                p.get("days", 90),
            )
            % p
        )
    if code == "failed":
        return _("Reading the feed failed unexpectedly; the logs say why.")
    return code
