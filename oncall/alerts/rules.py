"""Reading Prometheus alerting rules: plain rule files and Kubernetes PrometheusRule manifests.

Only what coverage needs: each alerting rule's name and labels. Recording
rules are skipped. Every file is read on its own: a bad one is named with its
reason and the others still count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

MAX_FILE = 5 * 1024 * 1024


@dataclass
class RuleAlert:
    name: str
    labels: dict
    annotations: dict
    file: str


@dataclass
class RuleSet:
    alerts: list[RuleAlert] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a file that could not be read
    warnings: list[str] = field(default_factory=list)  # a rule skipped or doubtful; file read

    def by_name(self) -> dict[str, list[RuleAlert]]:
        """Alert names in the order first seen, each with every rule that defines it."""
        names: dict[str, list[RuleAlert]] = {}
        for alert in self.alerts:
            names.setdefault(alert.name, []).append(alert)
        return names


def _groups_of(document) -> list | None:
    """``groups`` of a rule file, or ``spec.groups`` of a PrometheusRule."""
    if not isinstance(document, dict):
        return None
    if "groups" in document:
        return document["groups"]
    spec = document.get("spec")
    if isinstance(spec, dict) and "groups" in spec:
        return spec["groups"]
    return None


def _text_dict(value) -> dict:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def read_file(path: Path, into: RuleSet) -> None:
    label = str(path)
    if not path.exists():
        into.problems.append(f"{label}: no such file")
        return
    if path.is_dir():
        into.problems.append(
            f"{label}: is a directory, not a file (name its files, e.g. {label}/*.yaml)"
        )
        return
    if path.stat().st_size > MAX_FILE:
        into.problems.append(f"{label}: over {MAX_FILE // (1024 * 1024)} MiB, not read")
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        into.problems.append(f"{label}: not UTF-8 text")
        return
    except OSError as e:
        into.problems.append(f"{label}: cannot be read ({e.strerror})")
        return
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        reason = getattr(e, "problem", None) or "not valid YAML"
        hint = (
            " (it holds {{ }} templating: render it first, e.g. with helm template)"
            if "{{" in text
            else ""
        )
        into.problems.append(f"{label}: not valid YAML: {reason}{where}{hint}")
        return
    found_groups = False
    for document in documents:
        groups = _groups_of(document)
        if groups is None:
            continue
        if not isinstance(groups, list):
            into.problems.append(f"{label}: groups is not a list")
            return
        found_groups = True
        for number, group in enumerate(groups, 1):
            _read_group(group, number, label, into)
    if not found_groups:
        into.problems.append(
            f"{label}: no rule groups (neither a rule file's groups: nor a PrometheusRule's spec.groups)"
        )


def _read_group(group, number: int, label: str, into: RuleSet) -> None:
    if not isinstance(group, dict):
        into.warnings.append(f"{label}: group {number} is not a mapping; skipped")
        return
    name = group.get("name") or f"#{number}"
    rules = group.get("rules") or []
    if not isinstance(rules, list):
        into.warnings.append(f"{label}: group {name}: rules is not a list; skipped")
        return
    for position, rule in enumerate(rules, 1):
        if not isinstance(rule, dict) or "record" in rule:
            continue
        alert = rule.get("alert")
        if not isinstance(alert, str) or not alert.strip():
            into.warnings.append(f"{label}: group {name}, rule {position}: no alert name; skipped")
            continue
        alert = alert.strip()
        if "{{" in alert or "$" in alert:
            into.warnings.append(
                f"{label}: group {name}: alert name {alert!r} is templated; render the file first"
            )
            continue
        expr = rule.get("expr")
        if isinstance(expr, str) and "{{" in expr:
            into.warnings.append(
                f"{label}: {alert}: the expression is templated ({{{{ }}}}); counted by its name"
            )
        into.alerts.append(
            RuleAlert(
                name=alert,
                labels=_text_dict(rule.get("labels")),
                annotations=_text_dict(rule.get("annotations")),
                file=label,
            )
        )


def read_rules(paths) -> RuleSet:
    rules = RuleSet()
    for path in paths:
        read_file(Path(path), rules)
    return rules
