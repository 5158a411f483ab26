"""Scenario files: ``drills/*.md``, YAML front matter for the steps, the body for notes.

The format is documented in docs/drill-format.md. ``dump`` writes a stored
scenario as such a file; ``parse`` reads one back and raises ``BadDrillFile``
naming the problem (the field, or the step and its field).

The runbooks sync hands every file below a ``drills`` folder to
``store_file`` and the scenarios whose file is gone to ``forget_files``
(registered at the end of this module):

1. A file is keyed by its path below the synced folder. Its content hash is
   the scenario's revision: the same hash is unchanged, nothing is parsed.
2. Otherwise the file is parsed whole; a bad file raises, and its scenario
   keeps its previous revision and steps.
3. A scenario with no drill gets the new steps in place. One that has drills
   keeps its steps for them (their played steps and pages point at those
   steps): it leaves the sync (its path is cleared) and the file's new
   revision becomes a new scenario.
4. A file that is gone: its scenario is deleted when it has no drill, and
   otherwise kept, out of the sync, for its drills' history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from operator import or_

import yaml
from django.db.models import Q
from django.utils.translation import gettext as _

from oncall.core.text import TextRefused, check_text
from oncall.drills.models import DEFAULT_ACK_TARGET, Scenario
from oncall.drills.record import store_scenario
from oncall.drills.steps import StepError, StepSpec, check_steps
from oncall.runbooks.files import BadFile, split_front_matter
from oncall.runbooks.sync import DRILLS_FOLDER, DrillFiles, FolderFile, register_drill_files
from oncall.teams.models import Team

MAX_FILE = 1024 * 1024
MAX_TITLE = 200


class BadDrillFile(ValueError):
    """A scenario file that cannot be read; the message is the reason for a person."""


@dataclass
class ParsedScenario:
    title: str
    brief: str
    root_cause: str
    ack_target: int
    expected_runbooks: list[str]
    steps: list[StepSpec]
    notes: str
    team_slug: str = ""
    extra: dict = field(default_factory=dict)


def _text(data: dict, name: str, *, required: bool = False, limit: int = 10_000) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadDrillFile(_("%(field)s must be text") % {"field": name})
    value = value.strip()
    if required and not value:
        raise BadDrillFile(_("%(field)s is missing") % {"field": name})
    if len(value) > limit:
        raise BadDrillFile(
            _("%(field)s is longer than %(max)s characters") % {"field": name, "max": limit}
        )
    try:
        return check_text(value, name=name)
    except TextRefused as error:
        raise BadDrillFile(str(error)) from None


def parse(raw: bytes | str) -> ParsedScenario:
    """Read a scenario file; BadDrillFile names what is wrong."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_FILE:
            raise BadDrillFile(_("the file is over 1 MiB"))
        try:
            raw = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            raise BadDrillFile(_("not UTF-8")) from None
    text = raw.replace("\r\n", "\n")
    try:
        data, body = split_front_matter(text)
    except BadFile as error:
        raise BadDrillFile(str(error)) from None
    if not data:
        raise BadDrillFile(_("the file has no front matter with steps"))
    ack = data.get("ack_target", DEFAULT_ACK_TARGET)
    if isinstance(ack, bool) or not isinstance(ack, int) or not 1 <= ack <= 24 * 60 * 60:
        raise BadDrillFile(
            _("ack_target must be a whole number of seconds from 1 to 86400, not %(value)r")
            % {"value": ack}
        )
    expected = data.get("expected_runbooks") or []
    if not isinstance(expected, list) or not all(isinstance(s, str) for s in expected):
        raise BadDrillFile(_("expected_runbooks must be a list of runbook slugs"))
    try:
        steps = check_steps(data.get("steps"))
    except StepError as error:
        raise BadDrillFile(str(error)) from None
    if not any(step.kind == "fired" for step in steps):
        raise BadDrillFile(_("steps hold no fired alert, so a drill of it could not start"))
    try:
        notes = check_text(body.strip(), name=_("the notes"))
    except TextRefused as error:
        raise BadDrillFile(str(error)) from None
    return ParsedScenario(
        title=_text(data, "title", required=True, limit=MAX_TITLE),
        brief=_text(data, "brief"),
        root_cause=_text(data, "root_cause"),
        ack_target=ack,
        expected_runbooks=[s.strip() for s in expected if s.strip()],
        steps=steps,
        notes=notes,
        team_slug=_text(data, "team", limit=50),
    )


def _step(step) -> dict:
    out: dict = {"offset": step.offset, "kind": step.kind}
    if step.kind == "inject":
        out["text"] = step.text
        return out
    out["alertname"] = step.alertname
    labels = {k: v for k, v in step.labels.items() if k != "alertname"}
    if labels:
        out["labels"] = labels
    if step.annotations and step.kind == "fired":
        out["annotations"] = step.annotations
    if step.runbook_id:
        out["runbook"] = step.runbook.slug
    return out


def dump(scenario: Scenario) -> str:
    """The scenario as a ``drills/*.md`` file that ``parse`` reads back to the same steps."""
    data = {
        "title": scenario.title,
        "team": scenario.team.slug,
        "ack_target": scenario.ack_target,
    }
    if scenario.brief:
        data["brief"] = scenario.brief
    if scenario.root_cause:
        data["root_cause"] = scenario.root_cause
    expected = [r.slug for r in scenario.expected_runbooks.order_by("slug")]
    if expected:
        data["expected_runbooks"] = expected
    data["steps"] = [
        _step(step) for step in scenario.steps.select_related("runbook").order_by("position")
    ]
    front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    return f"---\n{front}---\n\n{scenario.hidden_notes.strip()}\n"


# -- files synced from a runbooks folder --


def _team_for(parsed: ParsedScenario, path: str) -> Team:
    """The team a file names, else the team whose slug is the first folder of its path."""
    slug = parsed.team_slug
    if not slug:
        first = path.split("/", 1)[0]
        slug = first if first != DRILLS_FOLDER else ""
    if not slug:
        raise BadDrillFile(_("the file names no team: add team: <slug> to its front matter"))
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise BadDrillFile(_("unknown team %(team)r") % {"team": slug[:50]})
    return team


def store_file(file: FolderFile) -> str:
    """Store one synced drill file; its outcome, or BadDrillFile naming the problem."""
    existing = Scenario.objects.filter(
        source=Scenario.Source.FILE, source_path=file.rel_str
    ).first()
    if existing is not None and existing.source_revision == file.content_hash:
        return "unchanged"
    parsed = parse(file.raw)
    team = _team_for(parsed, file.rel_str)
    if existing is not None and existing.team_id != team.pk:
        raise BadDrillFile(
            _("the scenario belongs to another team than %(team)s; a file keeps its team")
            % {"team": team.slug}
        )
    fields = {
        "team": team,
        "title": parsed.title,
        "specs": parsed.steps,
        "brief": parsed.brief,
        "hidden_notes": parsed.notes,
        "root_cause": parsed.root_cause,
        "ack_target": parsed.ack_target,
        "expected_runbooks": parsed.expected_runbooks,
        "source": Scenario.Source.FILE,
        "source_path": file.rel_str,
        "source_revision": file.content_hash,
    }
    if existing is None:
        store_scenario(**fields)
        return "created"
    if existing.drills.exists():
        Scenario.objects.filter(pk=existing.pk).update(source_path="")
        store_scenario(**fields)
    else:
        store_scenario(scenario=existing, **fields)
    return "updated"


def forget_files(folders: list[str], seen: set[str]) -> int:
    """Scenarios of these ``drills`` folders whose file is gone: deleted without drills,
    kept out of the sync with them. How many."""
    if not folders:
        return 0
    below = reduce(or_, (Q(source_path__startswith=f"{folder}/") for folder in folders))
    gone = (
        Scenario.objects.filter(below, source=Scenario.Source.FILE)
        .exclude(source_path__in=seen)
        .exclude(source_path="")
    )
    removed = 0
    for scenario in gone:
        if scenario.drills.exists():
            Scenario.objects.filter(pk=scenario.pk).update(source_path="")
        else:
            scenario.delete()
        removed += 1
    return removed


register_drill_files(DrillFiles(store=store_file, forget=forget_files))
