"""Which runbook answers an alert: the rules of ``/runbooks/alert/<name>``, in bulk.

The runbook page resolves one alert per request; the receiver, the coverage
page and ``runbook_coverage`` resolve hundreds at once, so the same rules are
applied here to rows fetched in one query:

1. Runbooks (not archived) that claim the alert name, case-insensitively.
2. A ``team`` and a ``service`` narrow them, unless that leaves none.
3. None left: a ``runbook_url`` annotation that points into this app
   (``…/runbooks/alert/<name>`` or ``…/runbooks/<slug>/``) names the runbook.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings

from oncall.core.text import TextRefused, check_segment
from oncall.runbooks.models import AlertName, Runbook

CHUNK = 500


class State:
    COVERED = "covered"
    MISSING = "missing"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Resolution:
    runbooks: tuple[Runbook, ...] = ()
    via: str = ""  # "alert name", "runbook_url" or "" (nothing found)

    @property
    def state(self) -> str:
        if not self.runbooks:
            return State.MISSING
        return State.COVERED if len(self.runbooks) == 1 else State.AMBIGUOUS

    @property
    def runbook(self) -> Runbook | None:
        return self.runbooks[0] if len(self.runbooks) == 1 else None


@dataclass(frozen=True)
class AppLink:
    """A ``runbook_url`` that points into this app."""

    alertname: str = ""
    slug: str = ""
    team: str = ""
    service: str = ""


def parse_runbook_url(url: str) -> AppLink | None:
    """The runbook a URL names, if it points into this app (else None).

    Absolute URLs must be on ``SITE_URL``'s scheme and host; a path alone
    ("/runbooks/...") is taken as ours. A name, slug, team or service that
    decodes to a control character, NUL included, names nothing.
    """
    if not url or len(url) > 2000:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        site = urlsplit(settings.SITE_URL)
        if (parts.scheme.lower(), parts.netloc.lower()) != (
            site.scheme.lower(),
            site.netloc.lower(),
        ):
            return None
    base = urlsplit(settings.SITE_URL).path.rstrip("/")
    path = parts.path
    if base and path.startswith(base + "/"):
        path = path[len(base) :]
    if not path.startswith("/runbooks/"):
        return None
    query = parse_qs(parts.query)
    team = (query.get("team") or [""])[0]
    service = (query.get("service") or [""])[0]
    rest = unquote(path[len("/runbooks/") :])
    try:
        # "%00" decodes to NUL, which no alert name or slug holds (and
        # PostgreSQL refuses in a query): such a URL names nothing here.
        for part in (rest, team, service):
            check_segment(part, name="runbook_url")
    except TextRefused:
        return None
    if rest.startswith("alert/"):
        name = rest[len("alert/") :].strip("/")
        return AppLink(alertname=name, team=team, service=service) if name else None
    slug = rest.strip("/").lower()
    return AppLink(slug=slug) if slug else None


def _narrow(candidates: list[Runbook], team: str, service: str) -> list[Runbook]:
    narrowed = candidates
    if team:
        narrowed = [rb for rb in narrowed if rb.team and rb.team.slug == team] or narrowed
    if service:
        narrowed = [rb for rb in narrowed if rb.service.lower() == service.lower()] or narrowed
    return narrowed


class RunbookIndex:
    """Runbooks for a known set of alert names and runbook URLs, fetched up front."""

    def __init__(self, names: Iterable[str], runbook_urls: Iterable[str] = ()) -> None:
        links = [link for link in map(parse_runbook_url, set(runbook_urls)) if link]
        keys = {name.lower() for name in names} | {
            link.alertname.lower() for link in links if link.alertname
        }
        self._by_key: dict[str, list[Runbook]] = {key: [] for key in keys}
        ordered = sorted(keys)
        for start in range(0, len(ordered), CHUNK):
            rows = (
                AlertName.objects.filter(
                    key__in=ordered[start : start + CHUNK], runbook__archived=False
                )
                .select_related("runbook__team")
                .order_by("runbook__slug")
            )
            for row in rows:
                found = self._by_key[row.key]
                if all(rb.pk != row.runbook_id for rb in found):
                    found.append(row.runbook)
        slugs = sorted({link.slug for link in links if link.slug})
        self._by_slug: dict[str, Runbook] = {}
        for start in range(0, len(slugs), CHUNK):
            for runbook in Runbook.objects.filter(
                slug__in=slugs[start : start + CHUNK], archived=False
            ).select_related("team"):
                self._by_slug[runbook.slug] = runbook

    def candidates(self, alertname: str) -> list[Runbook]:
        return list(self._by_key.get(alertname.lower(), ()))

    def resolve(
        self, alertname: str, *, team: str = "", service: str = "", runbook_url: str = ""
    ) -> Resolution:
        narrowed = _narrow(self.candidates(alertname), team, service)
        if narrowed:
            return Resolution(tuple(narrowed), "alert name")
        link = parse_runbook_url(runbook_url)
        if link is None:
            return Resolution()
        if link.slug:
            runbook = self._by_slug.get(link.slug)
            return Resolution((runbook,), "runbook_url") if runbook else Resolution()
        narrowed = _narrow(
            self.candidates(link.alertname), link.team or team, link.service or service
        )
        return Resolution(tuple(narrowed), "runbook_url") if narrowed else Resolution()
