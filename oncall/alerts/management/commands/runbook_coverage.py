"""``manage.py runbook_coverage FILE...``: which alerting rules have a runbook, before anything fires."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from oncall.alerts.models import alert_url
from oncall.alerts.resolve import RunbookIndex, State
from oncall.alerts.rules import read_rules


class Command(BaseCommand):
    help = (
        "Read Prometheus rule files or PrometheusRule manifests and say, per alert name, "
        "whether a runbook answers it. Exit 1 when a file cannot be read, or when "
        "--fail-under is given and coverage is below it."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument(
            "--fail-under",
            type=float,
            metavar="PERCENT",
            help="exit 1 when fewer than PERCENT %% of the alerts have a runbook",
        )

    def handle(self, *args, files, format, fail_under, **options):
        if fail_under is not None and not 0 <= fail_under <= 100:
            raise CommandError("--fail-under takes a percentage from 0 to 100")
        rules = read_rules(files)
        names = rules.by_name()
        index = RunbookIndex(names, [r.annotations.get("runbook_url", "") for r in rules.alerts])
        results = []
        for name, defined in names.items():
            first = defined[0]
            found = index.resolve(
                name,
                team=first.labels.get("team", ""),
                service=first.labels.get("service", ""),
                runbook_url=first.annotations.get("runbook_url", ""),
            )
            if found.state == State.COVERED:
                url = f"{settings.SITE_URL}{found.runbook.get_absolute_url()}"
            elif found.state == State.AMBIGUOUS:
                url = f"{settings.SITE_URL}{alert_url(name)}"
            else:
                url = ""
            results.append(
                {
                    "alert": name,
                    "state": found.state,
                    "runbook_url": url,
                    "runbooks": [rb.slug for rb in found.runbooks],
                    "rules": len(defined),
                    "files": sorted({r.file for r in defined}),
                }
            )
        total = len(results)
        counts = {
            s: sum(1 for r in results if r["state"] == s)
            for s in (State.COVERED, State.MISSING, State.AMBIGUOUS)
        }
        percent = 100.0 * counts[State.COVERED] / total if total else 100.0
        summary = (
            f"{total} alerts: {counts[State.COVERED]} with a runbook, "
            f"{counts[State.MISSING]} without, {counts[State.AMBIGUOUS]} ambiguous"
        )
        if format == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "alerts": results,
                        "summary": {
                            "alerts": total,
                            "covered": counts[State.COVERED],
                            "missing": counts[State.MISSING],
                            "ambiguous": counts[State.AMBIGUOUS],
                            "percent_covered": round(percent, 1),
                        },
                        "problems": rules.problems,
                        "warnings": rules.warnings,
                    },
                    indent=2,
                )
            )
        else:
            width = max((len(r["alert"]) for r in results), default=0)
            for r in results:
                where = r["runbook_url"] or "-"
                self.stdout.write(f"{r['state']:<9}  {r['alert']:<{width}}  {where}")
            self.stdout.write(summary)
        for line in rules.problems:
            self.stderr.write(f"error: {line}")
        for line in rules.warnings:
            self.stderr.write(f"warning: {line}")
        failed = bool(rules.problems)
        if fail_under is not None and percent < fail_under:
            self.stderr.write(f"coverage {percent:.1f}% is under --fail-under {fail_under:g}%")
            failed = True
        if failed:
            raise SystemExit(1)
