"""The leads' readiness dashboard with 200 onboardings x 40 items: p50 and queries.

Target: p50 <= 150 ms with <= 10 queries for the whole page.

Runs standalone (``python bench/bench_readiness.py``) against a database of its
own: a throw-away SQLite file in a temporary folder, or, when DATABASE_URL
points at PostgreSQL, a fresh database on that server that is dropped at the
end. It never touches var/.
"""

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._database import throwaway_database  # noqa: E402

ONBOARDINGS = 200
ITEMS = 40
RUNS = 30
TARGET_P50_MS = 150
TARGET_QUERIES = 10


def main() -> None:
    with throwaway_database("readiness"):
        run()


def run() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    team, lead = build()

    from oncall.readiness import dashboard

    client = Client()
    client.force_login(lead)
    path = f"/teams/{team.slug}/readiness/"
    client.get(path)  # warm up: templates compiled, states brought in line

    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get(path)

    # The same machine serving a trivial signed-in page: what every page pays
    # (session, user, middleware, base template) before its own work.
    baseline = []
    for _ in range(RUNS):
        started = time.perf_counter()
        client.get("/profile/")
        baseline.append((time.perf_counter() - started) * 1000)

    gate_timings = []
    for _ in range(10):
        started = time.perf_counter()
        rows = dashboard.team_rows(team)
        gate_timings.append((time.perf_counter() - started) * 1000)

    p50 = statistics.median(timings)
    p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
    engine = connection.vendor
    print(f"readiness dashboard, {ONBOARDINGS} onboardings x {ITEMS} items ({engine})")
    print(f"  rows on the page      {len(rows)}")
    print(f"  page p50              {p50:7.1f} ms   (target <= {TARGET_P50_MS} ms)")
    print(f"  page p95              {p95:7.1f} ms")
    print(f"  page min / max        {min(timings):7.1f} / {max(timings):.1f} ms")
    print(f"  rows + gate p50       {statistics.median(gate_timings):7.1f} ms")
    print(
        f"  /profile/ p50         {statistics.median(baseline):7.1f} ms   (a trivial page, for scale)"
    )
    print(f"  queries per page      {len(queries):7d}      (target <= {TARGET_QUERIES})")
    print(f"  p50 / target          {p50 / TARGET_P50_MS:7.2f}")
    print(f"  queries / target      {len(queries) / TARGET_QUERIES:7.2f}")


def build():
    """A team with a lead, 200 engineers and their 40-item onboardings, shifts and reads."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from oncall.readiness.models import (
        ChecklistTemplate,
        ItemProgress,
        Kind,
        Onboarding,
        TemplateItem,
    )
    from oncall.runbooks.models import Revision, Runbook
    from oncall.shifts.models import ShadowShift
    from oncall.teams.models import Membership, Team

    User = get_user_model()
    team = Team.objects.create(slug="payments", name="Payments", time_zone="Asia/Tokyo")
    lead = User.objects.create_user("lead", password="bench-password-1")
    primary = User.objects.create_user("primary")
    Membership.objects.create(user=lead, team=team, role=Membership.Role.LEAD)
    runbooks = []
    for n in range(8):
        runbook = Runbook.objects.create(slug=f"payments/runbook-{n}", title=f"Runbook {n}")
        revisions = [
            Revision.objects.create(
                runbook=runbook, number=r, content_hash=f"{n}-{r}", markdown="#", html=""
            )
            for r in (1, 2)
        ]
        runbook.current_revision = revisions[-1]
        runbook.save(update_fields=["current_revision"])
        runbooks.append((runbook, revisions))

    template = ChecklistTemplate.objects.create(team=team, name="Forty items")
    kinds = [Kind.TASK, Kind.ACCESS_CHECK, Kind.READ_RUNBOOK, Kind.DRILL, Kind.READ_RUNBOOK]
    template_items = []
    for n in range(ITEMS - 2):
        kind = kinds[n % len(kinds)]
        template_items.append(
            TemplateItem(
                template=template,
                section=f"Section {n // 8}",
                title=f"Item {n}",
                kind=kind,
                runbook=runbooks[n % len(runbooks)][0] if kind == Kind.READ_RUNBOOK else None,
                needs_signoff=n % 6 == 0,
                required=n % 9 != 0,
                order=n,
            )
        )
    template_items.append(
        TemplateItem(
            template=template, section="Practice", title="Shadow", kind=Kind.SHADOW_SHIFT, count=3
        )
    )
    template_items.append(
        TemplateItem(
            template=template,
            section="Practice",
            title="Reverse",
            kind=Kind.REVERSE_SHADOW_SHIFT,
            count=2,
        )
    )
    template_items = TemplateItem.objects.bulk_create(template_items)

    now = timezone.now()
    engineers = User.objects.bulk_create(
        User(username=f"engineer{n:03}", first_name=f"Engineer {n}") for n in range(ONBOARDINGS)
    )
    Membership.objects.bulk_create(Membership(user=u, team=team) for u in engineers)
    onboardings = Onboarding.objects.bulk_create(
        Onboarding(
            engineer=u,
            team=team,
            template=template,
            lead=lead,
            started_at=now - timedelta(days=60 - n % 50),
            last_activity_at=now - timedelta(days=n % 12),
            target_date=(now + timedelta(days=n % 40 - 10)).date(),
        )
        for n, u in enumerate(engineers)
    )
    revision_of = {rb.pk: revs for rb, revs in runbooks}
    progress = []
    for i, onboarding in enumerate(onboardings):
        for t in template_items:
            done = (i * 7 + t.order) % 10 < 4 + i % 7
            read = None
            if t.kind == Kind.READ_RUNBOOK and done:
                read = revision_of[t.runbook_id][1 if (i + t.order) % 5 else 0]
            progress.append(
                ItemProgress(
                    onboarding=onboarding,
                    template_item=t,
                    section=t.section,
                    title=t.title,
                    kind=t.kind,
                    required=t.required,
                    needs_signoff=t.needs_signoff,
                    runbook_id=t.runbook_id,
                    count=t.count,
                    order=t.order,
                    done_at=now if done else None,
                    done_by=onboarding.engineer if done else None,
                    signed_off_at=now if done and t.needs_signoff and i % 2 else None,
                    revision_read=read,
                )
            )
    ItemProgress.objects.bulk_create(progress, batch_size=2000)
    shifts = []
    for i, engineer in enumerate(engineers):
        for k in range(i % 6):
            starts = now - timedelta(days=40 - k)
            shifts.append(
                ShadowShift(
                    team=team,
                    trainee=engineer,
                    primary=primary,
                    kind=ShadowShift.Kind.SHADOW if k < 3 else ShadowShift.Kind.REVERSE_SHADOW,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=8),
                    state=ShadowShift.State.DONE,
                )
            )
    ShadowShift.objects.bulk_create(shifts)
    return team, lead


if __name__ == "__main__":
    main()
