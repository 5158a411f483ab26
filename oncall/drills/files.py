"""Scenario files: ``drills/*.md``, YAML front matter for the steps, the body for notes.

The format is documented in docs/drill-format.md. ``dump`` writes a stored
scenario as such a file; ``parse`` reads one back and raises ``BadDrillFile``
naming the problem (the field, or the step and its field).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from django.utils.translation import gettext as _

from oncall.core.text import TextRefused, check_text
from oncall.drills.models import DEFAULT_ACK_TARGET, Scenario
from oncall.drills.steps import StepError, StepSpec, check_steps
from oncall.runbooks.files import BadFile, split_front_matter

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
