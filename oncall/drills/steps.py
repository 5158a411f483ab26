"""The one rule for a scenario's steps, wherever they come from.

Steps arrive from a game master's form, from a ``drills/*.md`` file and from
the team's recorded alerts. Each is checked here before anything is stored:

1. At most ``MAX_STEPS`` steps, and at least one fired alert for a drill to
   start (a scenario of injects alone pages nobody).
2. ``kind`` is ``fired``, ``resolved`` or ``inject``; ``offset`` is a whole
   number of seconds from 0 to ``MAX_OFFSET`` (24 h).
3. An alert step names its alert; its labels and annotations are mappings of
   strings to strings, each value at most ``MAX_VALUE`` bytes of UTF-8, by the
   project's text rule (no NUL, no lone surrogate).
4. An inject carries text (at most ``MAX_INJECT`` characters).

The first problem found raises StepError, whose message names the step (1-based)
and the field, e.g. "step 3: offset -5 is below 0".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from oncall.core.text import TextRefused, check_mapping, check_text

MAX_STEPS = 200
MAX_OFFSET = 24 * 60 * 60
MAX_VALUE = 1024
MAX_INJECT = 10_000
MAX_ALERTNAME = 200
KINDS = ("fired", "resolved", "inject")


class StepError(ValueError):
    """A step the rule refuses; the message names the step and the field."""


@dataclass
class StepSpec:
    """A checked step, ready to store."""

    kind: str
    offset: int
    alertname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    text: str = ""
    runbook_slug: str = ""


def _mapping(value: Any, *, where: str, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StepError(_("%(where)s: %(name)s must be a mapping") % {"where": where, "name": name})
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise StepError(
                _("%(where)s: %(name)s %(key)s must be a string, not %(type)s")
                % {"where": where, "name": name, "key": key, "type": type(item).__name__}
            )
        if len(item.encode("utf-8", "surrogatepass")) > MAX_VALUE:
            raise StepError(
                _("%(where)s: %(name)s %(key)s is longer than %(max)s bytes")
                % {"where": where, "name": name, "key": key[:60], "max": MAX_VALUE}
            )
    try:
        check_mapping(value, name=f"{where}: {name}")
    except TextRefused as error:
        raise StepError(str(error)) from None
    return dict(value)


def check_step(raw: Any, *, number: int) -> StepSpec:
    """One step (a mapping as in a file's front matter) checked by the rule above."""
    where = _("step %(n)s") % {"n": number}
    if not isinstance(raw, dict):
        raise StepError(_("%(where)s must be a mapping") % {"where": where})
    kind = raw.get("kind")
    if kind not in KINDS:
        raise StepError(
            _("%(where)s: kind %(kind)r is not one of fired, resolved, inject")
            % {"where": where, "kind": kind}
        )
    offset = raw.get("offset", 0)
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise StepError(
            _("%(where)s: offset %(offset)r is not a whole number of seconds")
            % {"where": where, "offset": offset}
        )
    if offset < 0:
        raise StepError(
            _("%(where)s: offset %(offset)s is below 0") % {"where": where, "offset": offset}
        )
    if offset > MAX_OFFSET:
        raise StepError(
            _("%(where)s: offset %(offset)s is over 24 hours (%(max)s seconds)")
            % {"where": where, "offset": offset, "max": MAX_OFFSET}
        )
    spec = StepSpec(kind=kind, offset=offset)
    if kind == "inject":
        text = raw.get("text")
        if not isinstance(text, str) or not text.strip():
            raise StepError(_("%(where)s: an inject needs text") % {"where": where})
        if len(text) > MAX_INJECT:
            raise StepError(
                _("%(where)s: text is longer than %(max)s characters")
                % {"where": where, "max": MAX_INJECT}
            )
        try:
            spec.text = check_text(text, name=f"{where}: text")
        except TextRefused as error:
            raise StepError(str(error)) from None
        return spec
    alertname = raw.get("alertname")
    labels = _mapping(raw.get("labels"), where=where, name="labels")
    if alertname is None:
        alertname = labels.get("alertname")
    if not isinstance(alertname, str) or not alertname.strip():
        raise StepError(_("%(where)s: an alert step needs an alertname") % {"where": where})
    if len(alertname) > MAX_ALERTNAME:
        raise StepError(
            _("%(where)s: alertname is longer than %(max)s characters")
            % {"where": where, "max": MAX_ALERTNAME}
        )
    try:
        spec.alertname = check_text(alertname.strip(), name=f"{where}: alertname")
    except TextRefused as error:
        raise StepError(str(error)) from None
    spec.labels = {**labels, "alertname": spec.alertname}
    spec.annotations = _mapping(raw.get("annotations"), where=where, name="annotations")
    runbook = raw.get("runbook", "")
    if not isinstance(runbook, str) or len(runbook) > 255:
        raise StepError(_("%(where)s: runbook must be a runbook slug") % {"where": where})
    spec.runbook_slug = runbook.strip()
    return spec


def check_steps(raw: Any) -> list[StepSpec]:
    """Every step of a scenario, in order of offset (stable for equal offsets)."""
    if not isinstance(raw, list):
        raise StepError(_("steps must be a list"))
    if len(raw) > MAX_STEPS:
        raise StepError(
            _("a scenario holds at most %(max)s steps, not %(n)s")
            % {"max": MAX_STEPS, "n": len(raw)}
        )
    specs = [check_step(item, number=n) for n, item in enumerate(raw, start=1)]
    return sorted(specs, key=lambda spec: spec.offset)
