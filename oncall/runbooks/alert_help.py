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
"""

import difflib
import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils.safestring import SafeString, mark_safe

from oncall.runbooks.models import AlertName
from oncall.runbooks.search import suggest
from oncall.runbooks.words import alert_words
from oncall.teams import ratelimit

HELP_SECONDS = 10 * 60
GENERATION = "runbooks:alert-help:generation"
# A generation that lapses only starts a new one: the help is worked out again.
GENERATION_SECONDS = 24 * 60 * 60
LOOKUP_LIMIT = ratelimit.Limit("unknown-alert", count=30, period=timedelta(minutes=1))
CLOSE_NAMES = 5
STARTING_NAMES = 10
SUGGESTED_RUNBOOKS = 5


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
