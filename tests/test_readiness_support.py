"""Builders shared by the readiness tests (this module holds no tests itself)."""

import hashlib
from datetime import timedelta

from django.utils import timezone

from oncall.readiness.models import ChecklistTemplate, Kind, TemplateItem
from oncall.readiness.progress import mark_runbook_read, reading_proof, start_onboarding
from oncall.runbooks.changes import revisions_changed
from oncall.runbooks.models import Revision, Runbook
from oncall.shifts.models import ShadowShift
from oncall.shifts.schedule import cancel_shifts, confirm_shift, schedule_shifts
from oncall.shifts.series import Occurrence


def make_runbook(team, slug: str = "payments-api/error-rate-high", title: str = "") -> Runbook:
    runbook = Runbook.objects.create(slug=slug, title=title or slug.rsplit("/", 1)[-1], team=team)
    new_revision(runbook, "# First\n\nCheck the dashboard.\n")
    return runbook


def new_revision(runbook: Runbook, markdown: str) -> Revision:
    """What the runbooks sync does when a file changed: a new revision becomes current."""
    number = (runbook.revisions.order_by("-number").values_list("number", flat=True).first()) or 0
    revision = Revision.objects.create(
        runbook=runbook,
        number=number + 1,
        content_hash=hashlib.sha256(markdown.encode()).hexdigest(),
        markdown=markdown,
        html=f"<p>{markdown}</p>",
    )
    runbook.current_revision = revision
    runbook.save(update_fields=["current_revision"])
    revisions_changed([runbook.pk])
    return revision


def make_template(
    team=None, *, runbook=None, name: str = "Payments readiness"
) -> ChecklistTemplate:
    """A small checklist: two tasks (one needs a sign-off), an optional task,
    a runbook to read (when given), 3 shadow and 2 reverse-shadow shifts."""
    template = ChecklistTemplate.objects.create(team=team, name=name)
    rows = [
        ("Access & tools", "Laptop and VPN", Kind.ACCESS_CHECK, True, False, 1),
        ("Knowledge", "Escalation policy", Kind.TASK, True, True, 1),
        ("Knowledge", "Optional reading", Kind.TASK, False, False, 1),
        ("Practice", "Shadow shifts", Kind.SHADOW_SHIFT, True, False, 3),
        ("Practice", "Reverse-shadow shifts", Kind.REVERSE_SHADOW_SHIFT, True, False, 2),
    ]
    for n, (section, title, kind, required, signoff, count) in enumerate(rows):
        TemplateItem.objects.create(
            template=template,
            section=section,
            title=title,
            kind=kind,
            required=required,
            needs_signoff=signoff,
            count=count,
            order=n * 10,
        )
    if runbook is not None:
        TemplateItem.objects.create(
            template=template,
            section="Knowledge",
            title=runbook.title,
            kind=Kind.READ_RUNBOOK,
            runbook=runbook,
            order=15,
        )
    return template


def start(engineer, team, template, lead):
    return start_onboarding(engineer=engineer, team=team, template=template, started_by=lead)


def done_shifts(team, trainee, primary, *, kind=ShadowShift.Kind.SHADOW, n: int = 1, state=None):
    """Past shifts, through the real workflows: confirmed by the primary (done),
    left scheduled, or cancelled. Each starts a day after the trainee's last one."""
    state = state or ShadowShift.State.DONE
    taken = ShadowShift.objects.filter(trainee=trainee).count()
    first = timezone.now() - timedelta(days=90 - taken)
    occurrences = [
        Occurrence(
            local_date=(first + timedelta(days=i)).date(),
            starts_at=first + timedelta(days=i),
            ends_at=first + timedelta(days=i, hours=8),
        )
        for i in range(n)
    ]
    shifts = []
    for occurrence in occurrences:
        shifts += schedule_shifts(
            team=team,
            trainee=trainee,
            primary=primary,
            kind=kind,
            occurrences=[occurrence],
            time_zone="UTC",
            created_by=None,
        )
    for shift in shifts:
        if state == ShadowShift.State.DONE:
            confirm_shift(shift=shift, by=primary, lead=False)
        elif state == ShadowShift.State.CANCELLED:
            cancel_shifts(shifts=[shift])
    return shifts


def read_runbook(engineer, runbook: Runbook) -> int:
    """Open the runbook's current revision and mark it read, as its page lets one do."""
    proof = reading_proof(user=engineer, revision=runbook.current_revision)
    return mark_runbook_read(engineer=engineer, runbook=runbook, proof=proof)


def item(onboarding, title: str):
    return onboarding.items.select_related("runbook").get(title=title)
