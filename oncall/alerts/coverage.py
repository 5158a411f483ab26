"""Runbook coverage: which alerts that fired have a runbook, and which should get one.

The coverage page, the weekly digest and ``runbook_coverage`` all ask the
same resolver (``resolve.RunbookIndex``) and rank the same suggestions.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max
from django.db.models.fields.json import KeyTextTransform
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import ngettext

from oncall.alerts.models import AHEAD_OF_NOW, AlertOccurrence
from oncall.alerts.resolve import Resolution, RunbookIndex, State
from oncall.runbooks.models import AlertName, Runbook
from oncall.runbooks.words import WORD
from oncall.teams.models import Team

SUGGESTIONS = 3
MIN_SCORE = 0.2
# How much the closest alert name's spelling raises a score: at most by half.
SPELLING = 0.5
STATE_ORDER = {State.MISSING: 0, State.AMBIGUOUS: 1, State.COVERED: 2}


def words(text: str) -> set[str]:
    """The words of a title or a CamelCase alert name, lower-cased, plural 's' dropped.

    ``PaymentsApiHighLatencyP99`` -> {payment, api, high, latency, p, 99}.
    """
    found = set()
    for word in WORD.findall(text):
        word = word.lower()
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.add(word)
    return found


# Where a long alert name may break on a narrow screen: between the words of
# CamelCase (KubePod|Crash|Looping, HTTP|Requests), before a number, after _ : . -
WORD_BOUNDARY = re.compile(
    r"(?<=[a-z])(?=[A-Z0-9])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[0-9])(?=[A-Za-z])|(?<=[_:.\-])(?=.)"
)


def breakable(name: str) -> SafeString:
    """``name`` escaped, with ``<wbr>`` at its word boundaries: a phone wraps it
    between words, never mid-word ("KubeP odCras hLoopi ng")."""
    return mark_safe("<wbr>".join(escape(part) for part in WORD_BOUNDARY.split(name)))  # noqa: S308


def yaml_list(names: list[str]) -> str:
    return "[" + ", ".join(n if n.isidentifier() else json.dumps(n) for n in names) + "]"


@dataclass
class Suggestion:
    runbook: Runbook
    score: float
    snippet: str  # the runbook's ``alerts:`` front matter line with the alert added


def suggestion_for(runbook: Runbook, score: float, alertname: str) -> Suggestion:
    path = runbook.source_path or f"{runbook.slug}.md"
    names = [*runbook.alerts, alertname]
    snippet = f"# {path}, in the front matter:\nalerts: {yaml_list(names)}"
    return Suggestion(runbook=runbook, score=round(score, 2), snippet=snippet)


@dataclass
class CoverageRow:
    alertname: str
    fired: int
    last_fired: datetime
    service: str
    resolution: Resolution
    suggestions: list[Suggestion] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.resolution.state

    @property
    def breakable_name(self) -> SafeString:
        return breakable(self.alertname)

    new_front_matter: str = ""


def new_runbook_front_matter(alertname: str, *, team: Team, service: str) -> str:
    """Front matter for a new runbook answering the alert."""
    title = " ".join(w.capitalize() for w in WORD.findall(alertname))
    lines = ["---", f"title: {json.dumps(title)}", f"team: {team.slug}"]
    if service:
        lines.append(f"service: {json.dumps(service)}")
    lines += [f"alerts: {yaml_list([alertname])}", "---"]
    return "\n".join(lines)


class Suggester:
    """Ranks runbooks by how close their title, alert names and service are to an alert name.

    Words weigh by how rare they are among the runbooks: "payments" or "high",
    in half of a team's runbooks, say little; "ledger" or "lag" say which
    runbook it is. So PaymentsLedgerLagHigh finds the replication-lag and the
    ledger runbooks before the API latency one that shares "payments" and "high".
    """

    def __init__(self, team: Team | None = None) -> None:
        self.team = team
        names: dict[int, list[str]] = {}
        for runbook_id, name in AlertName.objects.filter(runbook__archived=False).values_list(
            "runbook_id", "name"
        ):
            names.setdefault(runbook_id, []).append(name)
        self.pool = []
        for runbook in Runbook.objects.filter(archived=False).only(
            "pk", "slug", "title", "service", "alerts", "team_id", "source_path"
        ):
            alert_names = names.get(runbook.pk, [])
            vocabulary = words(runbook.title) | words(runbook.service)
            for name in alert_names:
                vocabulary |= words(name)
            self.pool.append((runbook, vocabulary, [n.lower() for n in alert_names]))
        counts: dict[str, int] = {}
        for _runbook, vocabulary, _keys in self.pool:
            for word in vocabulary:
                counts[word] = counts.get(word, 0) + 1
        size = len(self.pool)
        # Inverse document frequency, squared so that a rare word outweighs a few
        # common ones (a word every runbook has weighs nothing); a word no
        # runbook has weighs as one only a single runbook has.
        self.weight = {word: math.log(size / n) ** 2 for word, n in counts.items()}
        self.unseen = math.log(size) ** 2 if size > 1 else 1.0

    def _weight(self, found: set[str]) -> float:
        return sum(self.weight.get(word, self.unseen) for word in found)

    def suggest(self, alertname: str, limit: int = SUGGESTIONS) -> list[Suggestion]:
        wanted = words(alertname)
        if not wanted:
            return []
        key = alertname.lower()
        wanted_weight = self._weight(wanted)
        ranked = []
        for runbook, vocabulary, keys in self.pool:
            shared = wanted & vocabulary
            if not shared:
                continue
            # How much of the alert name's meaning the runbook speaks of (its
            # words weighed by rarity), raised by up to half by the closest
            # alert name's spelling (never alone: one team's names share a
            # prefix that says nothing), then a small preference for the
            # team's own runbooks.
            score = self._weight(shared) / wanted_weight if wanted_weight else 0.0
            score *= 1 + SPELLING * max(
                (difflib.SequenceMatcher(None, key, other).ratio() for other in keys), default=0
            )
            if self.team is not None and runbook.team_id == self.team.pk:
                score += 0.1
            if score >= MIN_SCORE:
                ranked.append((score, runbook))
        ranked.sort(key=lambda pair: (-pair[0], pair[1].slug))
        return [suggestion_for(rb, score, alertname) for score, rb in ranked[:limit]]


def team_coverage(
    *, team: Team, since: datetime, now: datetime, suggest: bool = True
) -> list[CoverageRow]:
    """Alert names that fired for the team since ``since``: missing runbooks first.

    What fired counts up to ``AHEAD_OF_NOW`` past ``now`` (clock skew), no
    further: the window is the last days, not the future.

    1. One grouped query: times fired and last fired per alert name, with a
       service label and a runbook_url annotation seen on it.
    2. Resolve every name at once, as the receiver does (team and service narrow).
    3. For names without a runbook, rank up to three runbooks to add it to.
    """
    groups = list(
        AlertOccurrence.objects.filter(
            team=team, starts_at__gte=since, starts_at__lte=now + AHEAD_OF_NOW
        )
        .values("alert_key")
        .annotate(
            name=Max("alertname"),
            fired=Count("id"),
            last=Max("starts_at"),
            service=Max(KeyTextTransform("service", "labels")),
            runbook_url=Max(KeyTextTransform("runbook_url", "annotations")),
        )
        .order_by()
    )
    index = RunbookIndex([g["name"] for g in groups], [g["runbook_url"] or "" for g in groups])
    rows = [
        CoverageRow(
            alertname=g["name"],
            fired=g["fired"],
            last_fired=g["last"],
            service=g["service"] or "",
            resolution=index.resolve(
                g["name"],
                team=team.slug,
                service=g["service"] or "",
                runbook_url=g["runbook_url"] or "",
            ),
        )
        for g in groups
    ]
    rows.sort(key=lambda r: (STATE_ORDER[r.state], -r.fired, r.alertname.lower()))
    if suggest and any(r.state == State.MISSING for r in rows):
        suggester = Suggester(team)
        for row in rows:
            if row.state == State.MISSING:
                row.suggestions = suggester.suggest(row.alertname)
                row.new_front_matter = new_runbook_front_matter(
                    row.alertname, team=team, service=row.service
                )
    return rows


def digest_line(*, team: Team, now: datetime) -> str:
    """For the lead's weekly digest: "3 alerts fired this week with no runbook: …" ("" if none)."""
    missing = [
        row.alertname
        for row in team_coverage(team=team, since=now - timedelta(days=7), now=now, suggest=False)
        if row.state == State.MISSING
    ]
    if not missing:
        return ""
    names = ", ".join(missing[:5]) + (", …" if len(missing) > 5 else "")
    return ngettext(
        "%(n)d alert fired this week with no runbook: %(names)s. See %(url)s",
        "%(n)d alerts fired this week with no runbook: %(names)s. See %(url)s",
        len(missing),
    ) % {
        "n": len(missing),
        "names": names,
        "url": f"{settings.SITE_URL}/teams/{team.slug}/coverage/",
    }
