"""One runbook file read and validated: front matter, limits, slug and rendering.

Everything here works on one file's bytes and touches no database, so a sync
can do it before it opens a transaction (see sync.py). Each problem is a
BadFile whose message is the reason a person reads next to the file's name.
"""

import contextlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml
from django.utils.translation import gettext as _

from oncall.core.text import TextRefused, check_segment, check_text
from oncall.runbooks.models import REVIEW_EVERY_DAYS, REVIEWED_YEARS
from oncall.runbooks.render import Rendered, RenderRefused, render_markdown

# Characters an alert name may not hold: it is one segment of /runbooks/alert/<name>.
ALERT_FORBIDDEN = set("/\\?#%") | {" ", "\t", "\n"}
# A path segment the runbook URLs reserve: /runbooks/<slug>/-/diff/ is the diff page.
RESERVED_SEGMENT = "-"
# Slug segments no link reaches: browsers and proxies remove them (/x/../ is /).
DOT_SEGMENTS = (".", "..")
# %41 in a name: a proxy that decodes the path once more asks for another runbook.
PERCENT_ESCAPE = re.compile("%[0-9A-Fa-f]{2}")

# Front matter ranges (and REVIEW_EVERY_DAYS, REVIEWED_YEARS from models). Each
# is a bad-file reason when exceeded, so nothing that reaches the database or
# date arithmetic can overflow it.
TEXT_LIMITS = {"title": 300, "team": 50, "service": 100, "owner": 150}
LIST_LIMITS = {"alerts": (100, 200), "tags": (50, 100)}  # (items, characters each)
INT64 = 2**63
# A whole number with more digits than this is out of every range above; it is
# read as one just past them instead of being converted (Python refuses to
# convert more than 4,300 digits, and converting is slow long before that).
MAX_DIGITS = 30
PAST_EVERY_RANGE = INT64 * 2
MAX_SLUG = 255  # Runbook.slug and Section.path
MAX_SOURCE_PATH = 500  # Runbook.source_path and source_root


class BadFile(Exception):
    """A file that cannot be imported; the message is the reason shown to the user."""


# libyaml's safe loader when PyYAML was built with it: ~15x faster than pure Python.
class FrontMatterLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader, with values it cannot build read as values each field refuses by name.

    A whole number too long to be in any range is read as one just past them
    (``review_every`` then says it must be between 1 and 3650, not "more");
    a date or time that does not exist (2026-13-45) is read as its text
    (``last_reviewed`` then says it must be a date).
    """


def _whole_number(loader: FrontMatterLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if sum(character.isalnum() for character in text) > MAX_DIGITS:
        return -PAST_EVERY_RANGE if text.lstrip().startswith("-") else PAST_EVERY_RANGE
    return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)


def _moment(loader: FrontMatterLoader, node: yaml.ScalarNode) -> object:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


FrontMatterLoader.add_constructor("tag:yaml.org,2002:int", _whole_number)
FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp", _moment)


@dataclass
class Parsed:
    """A runbook file read and validated, ready to store."""

    slug: str
    title: str
    team_slug: str
    service: str
    alerts: list[str]
    tags: list[str]
    owner: str
    review_every: int | None
    last_reviewed: date | None
    markdown: str
    html: str
    toc: list[dict]
    text: str


def split_front_matter(text: str) -> tuple[dict, str]:
    """Split Hugo-style ``---`` YAML front matter from the body.

    Returns ({}, text) when the file has none. Raises BadFile for YAML that
    does not parse or is not a mapping.
    """
    if not text.startswith("---"):
        return {}, text
    first_line, _newline, rest = text.partition("\n")
    if first_line.rstrip() != "---":
        return {}, text
    if rest.startswith("---"):
        yaml_text, body = "", rest.partition("\n")[2]
    else:
        end = rest.find("\n---")
        while end != -1 and rest[end + 4 : end + 5] not in ("", "\n", "\r", " ", "\t"):
            end = rest.find("\n---", end + 4)
        if end == -1:
            raise BadFile(_("front matter has no closing ---"))
        yaml_text = rest[:end]
        body = rest[end + 4 :].partition("\n")[2]
    try:
        data = yaml.load(yaml_text, Loader=FrontMatterLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise BadFile(_("front matter is not valid YAML") + where) from None
    except RecursionError:
        raise BadFile(_("front matter is nested too deeply")) from None
    if data is None:
        return {}, body
    if not isinstance(data, dict):
        raise BadFile(_("front matter is not a mapping of fields"))
    return data, body


def _number_in_range(name: str, value: object) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64 <= value < INT64:
        raise BadFile(_("%(field)s: the number is too large") % {"field": name})


def _checked(text: str, name: str) -> str:
    """Text from the front matter by the boundary rule: YAML's escapes can spell NUL."""
    try:
        return check_text(text, name=name)
    except TextRefused as refused:
        raise BadFile(str(refused)) from None


def _text_field(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadFile(_("%(field)s must be text") % {"field": name})
    _number_in_range(name, value)
    text = _checked(str(value).strip(), name)
    limit = TEXT_LIMITS[name]
    if len(text) > limit:
        raise BadFile(
            _("%(field)s is longer than %(limit)d characters (%(length)d)")
            % {"field": name, "limit": limit, "length": len(text)}
        )
    return text


def _list_field(data: dict, name: str) -> list[str]:
    value = data.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(item, str | int) and not isinstance(item, bool) for item in value
    ):
        raise BadFile(_("%(field)s must be a list of text") % {"field": name})
    most, longest = LIST_LIMITS[name]
    if len(value) > most:
        raise BadFile(
            _("%(field)s has more than %(limit)d entries (%(count)d)")
            % {"field": name, "limit": most, "count": len(value)}
        )
    items = []
    for item in value:
        _number_in_range(name, item)
        item = _checked(str(item).strip(), name)
        if len(item) > longest:
            raise BadFile(
                _("%(field)s: an entry is longer than %(limit)d characters (%(length)d)")
                % {"field": name, "limit": longest, "length": len(item)}
            )
        if item and item not in items:
            items.append(item)
    return items


def _alert_names(data: dict, file_stem: str) -> list[str]:
    alerts = _list_field(data, "alerts")
    for alert in alerts:
        if ALERT_FORBIDDEN & set(alert):
            raise BadFile(_("alerts: %(alert)r is not an alert name") % {"alert": alert})
    if (
        not alerts
        and "alerts" not in data
        and not (ALERT_FORBIDDEN & set(file_stem))
        and len(file_stem) <= LIST_LIMITS["alerts"][1]
    ):
        alerts = [file_stem]
    unique, keys = [], set()
    for alert in alerts:
        if alert.lower() not in keys:
            keys.add(alert.lower())
            unique.append(alert)
    return unique


def _review_every(data: dict) -> int | None:
    value = data.get("review_every")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadFile(_("review_every must be a whole number of days"))
    low, high = REVIEW_EVERY_DAYS
    if not low <= value <= high:
        raise BadFile(
            _("review_every must be between %(low)d and %(high)d days (not %(value)s)")
            % {"low": low, "high": high, "value": value if -INT64 <= value < INT64 else "more"}
        )
    return value


def _last_reviewed(data: dict) -> date | None:
    value = data.get("last_reviewed")
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value.strip())
    if not isinstance(value, date):
        raise BadFile(_("last_reviewed must be a date like 2026-10-01"))
    low, high = REVIEWED_YEARS
    if not low <= value.year <= high:
        raise BadFile(
            _(
                "last_reviewed must be a date between %(low)d-01-01 and %(high)d-12-31 (not %(value)s)"
            )
            % {"low": low, "high": high, "value": value.isoformat()}
        )
    return value


def slug_for(relative: Path) -> str:
    """``payments-api/Error-Rate.md`` -> ``payments-api/error-rate``."""
    return relative.with_suffix("").as_posix().lower()


def check_path(relative: Path) -> None:
    """Raise BadFile for a path whose slug or URL the site cannot hold.

    1. Every folder and file name passes the boundary rule for path segments
       (``check_segment``): a newline in a slug makes every link to it fail,
       and every page listing it with it.
    2. A name whose slug segment is ``.`` or ``..`` (``..md``) is unreachable:
       browsers remove such segments from a URL. A name holding a percent
       escape (``%2e%2e.md``) is ambiguous: a proxy decoding the path once
       more would ask for another runbook.
    3. A folder or file named ``-`` would make a slug such as ``x/-/diff``,
       whose page the diff route (``/runbooks/<slug>/-/diff/``) answers
       instead, so ``-`` is reserved as a whole path segment.
    4. Paths longer than the database columns fail here rather than at save time.
    """
    for name in relative.parts:
        try:
            check_segment(name, name=repr(name))
        except TextRefused as refused:
            raise BadFile(
                _("a folder or file name cannot be part of a link: %(reason)s")
                % {"reason": refused}
            ) from None
    segments = relative.with_suffix("").parts
    for name, segment in zip(relative.parts, segments, strict=True):
        if segment in DOT_SEGMENTS:
            raise BadFile(
                _("the name %(name)r makes the link segment %(segment)r, which browsers remove")
                % {"name": name, "segment": segment}
            )
        if escape := PERCENT_ESCAPE.search(segment):
            raise BadFile(
                _(
                    "the name %(name)r holds %(escape)s, which a link would read as an escaped character"
                )
                % {"name": name, "escape": escape.group()}
            )
    if RESERVED_SEGMENT in segments:
        raise BadFile(
            _("a folder or file named %(segment)r: runbook URLs reserve it")
            % {"segment": RESERVED_SEGMENT}
        )
    slug = slug_for(relative)
    if len(slug) > MAX_SLUG:
        raise BadFile(
            _("the path is longer than %(limit)d characters (%(length)d)")
            % {"limit": MAX_SLUG, "length": len(slug)}
        )


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise BadFile(_("not UTF-8")) from None
    if "\x00" in text:  # PostgreSQL cannot store it; no text file holds it
        raise BadFile(_("holds NUL characters, so it is not a text file"))
    return text.replace("\r\n", "\n")


def _render(body: str, relative: Path) -> Rendered:
    try:
        return render_markdown(body, page_dir=relative.parent.as_posix())
    except RenderRefused as e:
        raise BadFile(str(e)) from None


def read_runbook(relative: Path, raw: bytes) -> Parsed:
    """Parse and render one runbook file; raises BadFile with the reason."""
    text = _decode(raw)
    data, body = split_front_matter(text)
    title = _text_field(data, "title")
    team_slug = _text_field(data, "team")
    service = _text_field(data, "service") or (relative.parent.name if relative.parent.name else "")
    alerts = _alert_names(data, relative.stem)
    tags = _list_field(data, "tags")
    owner = _text_field(data, "owner")
    review_every = _review_every(data)
    last_reviewed = _last_reviewed(data)
    rendered = _render(body, relative)
    if rendered.outside_links:
        raise BadFile(
            _("links out of the runbook folder: %(links)s")
            % {"links": ", ".join(rendered.outside_links)}
        )
    return Parsed(
        slug=slug_for(relative),
        title=(title or rendered.first_heading or relative.stem)[:300],
        team_slug=team_slug,
        service=service[:100],
        alerts=alerts,
        tags=tags,
        owner=owner[:150],
        review_every=review_every,
        last_reviewed=last_reviewed,
        markdown=text,
        html=rendered.html,
        toc=rendered.toc,
        text=rendered.text,
    )


def read_section(relative: Path, raw: bytes) -> tuple[str, str]:
    """Parse and render a folder's ``_index.md``: (title, html); raises BadFile."""
    text = _decode(raw)
    data, body = split_front_matter(text)
    rendered = _render(body, relative)
    if rendered.outside_links:
        raise BadFile(
            _("links out of the runbook folder: %(links)s")
            % {"links": ", ".join(rendered.outside_links)}
        )
    title = _text_field(data, "title") or rendered.first_heading[:300] or relative.parent.name
    return title or _("Runbooks"), rendered.html
