"""A calendar feed's URL as people use it: to copy, to open in a calendar app, to add to Google."""

from django.utils.http import urlencode


def subscription(url: str) -> dict[str, str]:
    """The feed URL, the same as a webcal:// link, and an "Add to Google Calendar" link."""
    webcal = "webcal://" + url.split("://", 1)[1]
    return {
        "url": url,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/render?" + urlencode({"cid": webcal}),
    }
