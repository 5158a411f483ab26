"""Help for an alert no runbook answers: close names, names it begins, runbooks about its words.

Working it out reads every alert name and runs a search per word of the name:
about 45 ms of CPU, where answering a known alert takes one query. One
client asking for made-up names 22 times a second slowed every other page.
So the help is kept per name, and what one person can make us work out is
limited:

- The help for a name is kept HELP_SECONDS, for the name as typed (its words
  depend on its case). A runbook sync that makes new revisions or archives
  runbooks, or an admin's edit, starts a new generation once committed, so no
  help outlives the runbooks it was worked out from. Without Redis each
  process keeps its own (a sync run by the worker shows in the web
  processes within HELP_SECONDS).
- Working it out counts against LOOKUP_LIMIT for the person asking; help
  already kept costs nothing and is not counted. Past the limit the page
  still answers, with the search box, and says when to try again (429).

Before any of that the page says who to page: the escalation note of the team
the link names (``?team=``), else of the asker's teams. A note is markdown its
leads wrote, rendered by the runbook renderer, sanitised to a few tags and kept
per text (see ``escalation_html``).
"""

import difflib
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta

import nh3
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from oncall.runbooks.models import AlertName
from oncall.runbooks.render import RenderRefused, render_markdown
from oncall.runbooks.search import suggest
from oncall.runbooks.words import alert_words
from oncall.teams import ratelimit
from oncall.teams.models import ESCALATION_NOTE_MAX, Membership, Team

logger = logging.getLogger(__name__)

HELP_SECONDS = 10 * 60
GENERATION = "runbooks:alert-help:generation"
# A generation that lapses only starts a new one: the help is worked out again.
GENERATION_SECONDS = 24 * 60 * 60
LOOKUP_LIMIT = ratelimit.Limit("unknown-alert", count=30, period=timedelta(minutes=1))
CLOSE_NAMES = 5
STARTING_NAMES = 10
SUGGESTED_RUNBOOKS = 5
# An escalation note says who to page: a few paragraphs, lists and links.
NOTE_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote"}
NOTE_ATTRIBUTES = {"a": {"href", "title"}}
NOTE_SECONDS = 24 * 60 * 60
# What an alert rule's runbook_url holds when its template was not filled in.
UNFILLED = re.compile(r"\{\{|\}\}|\$labels|\{\$|[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Suggestion:
    """A runbook about the alert's words: its link, and title and snippet as highlighted HTML."""

    url: str
    title: SafeString
    snippet: SafeString


@dataclass(frozen=True)
class Help:
    close: list[str]  # alert names close to it ("Did you mean")
    starting: list[str]  # alert names it begins (a name typed in part)
    suggested: list[Suggestion]


def kept(alertname: str) -> Help | None:
    """The help kept for ``alertname`` in this generation, or None."""
    found = cache.get(_key(alertname))
    if found is None:
        return None
    close, starting, suggested = found
    return Help(
        close=close,
        starting=starting,
        suggested=[
            Suggestion(url, mark_safe(title), mark_safe(snippet))  # noqa: S308 - kept by work_out
            for url, title, snippet in suggested
        ],
    )


def work_out(alertname: str) -> Help:
    """The help for ``alertname``, worked out now and kept for the next person asking."""
    key = _key(alertname)
    names = AlertName.objects.filter(runbook__archived=False).values_list("name", flat=True)
    by_key = {name.lower(): name for name in names}
    typed = alertname.lower()
    close = [
        by_key[found]
        for found in difflib.get_close_matches(typed, list(by_key), n=CLOSE_NAMES, cutoff=0.6)
    ]
    starting = sorted((name for k, name in by_key.items() if k.startswith(typed)), key=str.lower)[
        :STARTING_NAMES
    ]
    suggested = [
        Suggestion(hit.runbook.get_absolute_url(), hit.title, hit.snippet)
        for hit in suggest(alert_words(alertname), limit=SUGGESTED_RUNBOOKS)
    ]
    help_ = Help(
        close=[name for name in close if name not in starting],
        starting=starting,
        suggested=suggested,
    )
    cache.set(
        key,
        (help_.close, help_.starting, [(s.url, str(s.title), str(s.snippet)) for s in suggested]),
        HELP_SECONDS,
    )
    return help_


def forget(runbook_ids: list[int] | None = None) -> None:
    """Start a new generation of kept help once the change that calls this commits.

    A listener of ``changes.revisions_changed`` (registered in apps.py); the
    sync also calls it after archiving runbooks, and the admin after an edit.
    """
    transaction.on_commit(_new_generation)


def _new_generation() -> None:
    cache.set(GENERATION, time.time_ns(), GENERATION_SECONDS)


def _key(alertname: str) -> str:
    generation = cache.get(GENERATION)
    if generation is None:
        generation = time.time_ns()
        if not cache.add(GENERATION, generation, GENERATION_SECONDS):
            generation = cache.get(GENERATION, generation)
    digest = hashlib.sha256(alertname.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"runbooks:alert-help:{generation}:{digest}"


@dataclass(frozen=True)
class Escalation:
    """A team's word on who to page, for the page of an alert no runbook answers."""

    team: Team
    html: SafeString  # "" when the team has no note yet
    editable: bool  # the asker leads the team


def escalations(user: AbstractBaseUser, team_slug: str = "") -> list[Escalation]:
    """The escalation notes to show ``user``, in one query.

    The team the link names (``?team=``, as an alert rule can add it) comes
    alone, with or without a note; otherwise every team of the user's that has
    one (and every team they lead, to write one), by name. A ``?team=`` that
    names no team falls back to the user's teams.
    """
    led = Membership.objects.filter(team=OuterRef("pk"), user=user, role=Membership.Role.LEAD)
    teams = (
        Team.objects.only("id", "slug", "name", "escalation_note")
        .annotate(led=Exists(led))
        .order_by("name")
    )
    named = list(teams.filter(slug=team_slug)) if team_slug else []
    if not named:
        # A lead sees their team's even without a note: where to write one.
        named = teams.filter(memberships__user=user).filter(~Q(escalation_note="") | Q(led=True))
    return [
        Escalation(
            team=team,
            html=escalation_html(team.escalation_note),
            editable=user.is_staff or team.led,
        )
        for team in named
    ]


def escalation_html(note: str) -> SafeString:
    """A note's sanitised HTML, kept per text; as plain paragraphs when it cannot be rendered."""
    if not note.strip():
        return mark_safe("")
    key = f"runbooks:escalation:{hashlib.sha256(note.encode('utf-8', 'surrogatepass')).hexdigest()}"
    html = cache.get(key)
    if html is None:
        try:
            rendered = render_markdown(note, max_chars=ESCALATION_NOTE_MAX).html
            html = nh3.clean(
                rendered,
                tags=NOTE_TAGS,
                attributes=NOTE_ATTRIBUTES,
                url_schemes={"http", "https", "mailto"},
                link_rel="noopener noreferrer",
            )
        except RenderRefused as e:
            # The note still says who to page, as the text its leads typed.
            logger.warning("escalation note shown as text: %s", e)
            html = linebreaks(escape(note))
        cache.set(key, html, NOTE_SECONDS)
    return mark_safe(html)  # noqa: S308 - sanitised above, or escaped


def malformed(alertname: str) -> str:
    """Why ``alertname`` cannot be an alert's name ("" when it can be one)."""
    if not alertname.strip():
        return _("This link names no alert: the alert rule's runbook_url ends before the name.")
    if UNFILLED.search(alertname) or "/" in alertname:
        return _(
            "This link holds “%(name)s”, which is not an alert's name: the alert rule's "
            "runbook_url template was not filled in."
        ) % {"name": alertname}
    return ""
