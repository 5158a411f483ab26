"""Demo readiness: a payments checklist and five engineers at different stages.

- trainee (Taro): about 40 % done, production credentials and the drill passed
  (``drills.demo``) waiting for the lead's sign-off;
- mika: every item done (a drill passed) and signed off, ready to be cleared;
- sam: stalled for twelve days and past the target date;
- noa: cleared for on-call three weeks ago;
- kenji: just started, and reads the site in Japanese (his profile says so).

Runs after the runbooks demo (the sample runbooks are synced) and the shifts
demo (the trainee's done shifts) and the drills demo (its scenario). Idempotent: an engineer who already has an
onboarding in payments is left alone.
"""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from oncall.alerts.models import AlertOccurrence
from oncall.drills import demo as drills_demo
from oncall.drills import live
from oncall.drills.models import Response, Scenario
from oncall.readiness import default_template
from oncall.readiness.describe import render_description
from oncall.readiness.models import (
    Activity,
    ChecklistTemplate,
    ItemProgress,
    Kind,
    Onboarding,
    TemplateItem,
)
from oncall.readiness.progress import copy_template, start_onboarding
from oncall.readiness.reconcile import reconcile
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.demo import DEMO_PASSWORD
from oncall.teams.models import Membership, Team

TEMPLATE_NAME = "Payments on-call readiness"
TEMPLATE_NAME_JA = "決済サービスのオンコール準備"
READ_IT = "Read it end to end; try the first command against staging."
READ_IT_JA = "最初から最後まで読み、最初のコマンドをステージングで試してください。"
# The sample runbooks a payments trainee reads, by slug (the first one found per prefix).
CRITICAL_RUNBOOKS = [
    "payments-api/error-rate-high",
    "payments-api/latency-high",
    "payments-db/primary-failover",
]
EXTRA_TRAINEES = [
    # username, first name, last name
    ("mika", "Mika", "Sato"),
    ("sam", "Sam", "Okafor"),
    ("noa", "Noa", "Levi"),
]


def seed(out) -> None:
    User = get_user_model()
    team = Team.objects.filter(slug="payments").first()
    lead = User.objects.filter(username="lead").first()
    primary = User.objects.filter(username="primary").first()
    trainee = User.objects.filter(username="trainee").first()
    if not (team and lead and primary and trainee):
        return
    template = _payments_template(team, lead, out)
    people = {"trainee": trainee}
    for username, first, last in EXTRA_TRAINEES:
        people[username] = _demo_user(User, team, username, first, last, out)

    now = timezone.now()
    if not Onboarding.objects.filter(engineer=trainee, team=team).exists():
        onboarding = _start(template, team, trainee, primary, lead, now - timedelta(days=12))
        onboarding.target_date = (now + timedelta(days=21)).date()
        onboarding.save(update_fields=["target_date"])
        _progress(
            onboarding,
            lead=lead,
            now=now,
            done=[
                ("Laptop and VPN", 11),
                ("Pager app installed and a test page received", 10),
                ("Dashboard and log access", 9),
                ("Production credentials", 2),
                ("Incident roles and communication", 5),
            ],
            runbooks_read=1,
            notes={"Production credentials": "Logged in through break-glass with Priya watching."},
        )
        out("onboarding for trainee (about 40 %, the drill and one item waiting for sign-off)")

    kenji = User.objects.filter(username="kenji").first()
    if kenji and not Onboarding.objects.filter(engineer=kenji, team=team).exists():
        onboarding = _start(template, team, kenji, primary, lead, now - timedelta(days=6))
        onboarding.target_date = (now + timedelta(days=28)).date()
        onboarding.save(update_fields=["target_date"])
        _progress(
            onboarding,
            lead=lead,
            now=now,
            done=[("Laptop and VPN", 5), ("Dashboard and log access", 3)],
            runbooks_read=1,
        )
        out("onboarding for kenji (reads Japanese; just started)")

    mika = people["mika"]
    if not Onboarding.objects.filter(engineer=mika, team=team).exists():
        shifts = _done_shifts(team, mika, primary, lead, now, shadow=3, reverse=2, first_day=30)
        _handled_pages([s for s in shifts if s.kind == ShadowShift.Kind.REVERSE_SHADOW], count=3)
        _passed_drill(team, mika, lead, now - timedelta(days=16))
        onboarding = _start(template, team, mika, primary, lead, now - timedelta(days=40))
        onboarding.target_date = (now + timedelta(days=4)).date()
        onboarding.save(update_fields=["target_date"])
        titles = [i.title for i in onboarding.items.exclude(kind__in=[Kind.READ_RUNBOOK])]
        _progress(
            onboarding,
            lead=lead,
            now=now,
            done=[(t, 38 - 3 * n) for n, t in enumerate(titles)],
            runbooks_read=len(CRITICAL_RUNBOOKS),
            sign_all=True,
        )
        out("onboarding for mika (ready to be cleared)")

    sam = people["sam"]
    if not Onboarding.objects.filter(engineer=sam, team=team).exists():
        _done_shifts(team, sam, primary, lead, now, shadow=1, reverse=0, first_day=20)
        onboarding = _start(template, team, sam, primary, lead, now - timedelta(days=30))
        onboarding.target_date = (now - timedelta(days=5)).date()
        onboarding.save(update_fields=["target_date"])
        _progress(
            onboarding,
            lead=lead,
            now=now,
            done=[("Laptop and VPN", 28), ("Dashboard and log access", 12)],
            runbooks_read=0,
        )
        out("onboarding for sam (stalled, past the target date)")

    noa = people["noa"]
    if not Onboarding.objects.filter(engineer=noa, team=team).exists():
        _done_shifts(team, noa, primary, lead, now, shadow=3, reverse=2, first_day=60)
        _passed_drill(team, noa, lead, now - timedelta(days=40))
        onboarding = _start(template, team, noa, primary, lead, now - timedelta(days=75))
        titles = [i.title for i in onboarding.items.exclude(kind__in=[Kind.READ_RUNBOOK])]
        _progress(
            onboarding,
            lead=lead,
            now=now,
            done=[(t, 70 - 4 * n) for n, t in enumerate(titles)],
            runbooks_read=len(CRITICAL_RUNBOOKS),
            sign_all=True,
        )
        cleared_at = now - timedelta(days=21)
        Onboarding.objects.filter(pk=onboarding.pk).update(
            state=Onboarding.State.CLEARED,
            cleared_by=lead,
            cleared_at=cleared_at,
            ready_at=cleared_at - timedelta(days=3),
            last_activity_at=cleared_at,
        )
        onboarding.log(Activity.Verb.CLEAR, actor=lead, at=cleared_at)
        Onboarding.objects.filter(pk=onboarding.pk).update(last_activity_at=cleared_at)
        out("onboarding for noa (cleared for on-call)")


def _payments_template(team: Team, lead, out) -> ChecklistTemplate:
    """The default template, copied for payments, with its critical runbooks linked."""
    existing = ChecklistTemplate.objects.filter(team=team, name=TEMPLATE_NAME).first()
    if existing is not None:
        return existing
    default = ChecklistTemplate.objects.filter(team=None, name=default_template.NAME).first()
    if default is None:
        default = ChecklistTemplate.objects.create(name=default_template.NAME)
    # Its Japanese text and this release's items, for kenji who reads Japanese.
    default_template.bring_up_to_date(default, TemplateItem, render=render_description)
    template = copy_template(template=default, team=team, by=lead, name=TEMPLATE_NAME)
    template.name_ja = TEMPLATE_NAME_JA
    template.save(update_fields=["name_ja"])
    placeholder = template.items.filter(title="The team's critical runbooks").first()
    order = placeholder.order if placeholder else 50
    section = placeholder.section if placeholder else "Knowledge"
    section_ja = placeholder.section_ja if placeholder else default_template.SECTIONS_JA[section]
    for n, slug in enumerate(CRITICAL_RUNBOOKS):
        # The exact sample runbook, or else another of the same service.
        candidates = Runbook.objects.filter(archived=False).exclude(
            pk__in=template.items.exclude(runbook=None).values("runbook")
        )
        runbook = (
            candidates.filter(slug=slug).first()
            or candidates.filter(slug__startswith=slug.split("/")[0] + "/").order_by("slug").first()
        )
        if runbook is None:
            continue
        item = TemplateItem(
            template=template,
            section=section,
            section_ja=section_ja,
            title=runbook.title,
            title_ja=f"ランブックを読む: {runbook.title}",
            kind=Kind.READ_RUNBOOK,
            runbook=runbook,
            order=order + n,
        )
        item.set_description(READ_IT, japanese=READ_IT_JA)
        item.save()
    if placeholder is not None and template.items.filter(kind=Kind.READ_RUNBOOK).exists():
        placeholder.delete()
    out(f"checklist template {TEMPLATE_NAME!r}")
    return template


def _demo_user(User, team: Team, username: str, first: str, last: str, out):
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(
            username=username,
            email=f"{username}@example.com",
            password=DEMO_PASSWORD,
            first_name=first,
            last_name=last,
        )
        user.profile.time_zone = team.time_zone
        user.profile.save(update_fields=["time_zone"])
        out(f"user {username}")
    Membership.objects.get_or_create(
        user=user, team=team, defaults={"role": Membership.Role.MEMBER}
    )
    return user


def _start(template, team, engineer, mentor, lead, started_at: datetime) -> Onboarding:
    onboarding = start_onboarding(
        engineer=engineer, team=team, template=template, started_by=lead, mentor=mentor
    )
    Onboarding.objects.filter(pk=onboarding.pk).update(
        started_at=started_at, last_activity_at=started_at
    )
    onboarding.activities.update(at=started_at)
    onboarding.refresh_from_db()
    return onboarding


def _passed_drill(team, trainee, lead, at: datetime) -> None:
    """A drill item counts drills passed, not ticks: one passed drill of the demo's scenario."""
    scenario = Scenario.objects.filter(team=team, title=drills_demo.SCENARIO_TITLE).first()
    if scenario is not None:
        drills_demo.passed_drill(scenario, trainee, lead, at=at)


def _done_shifts(
    team, trainee, primary, lead, now, *, shadow: int, reverse: int, first_day: int
) -> list[ShadowShift]:
    kinds = [ShadowShift.Kind.SHADOW] * shadow + [ShadowShift.Kind.REVERSE_SHADOW] * reverse
    shifts = []
    for n, kind in enumerate(kinds):
        starts = (now - timedelta(days=first_day - 3 * n)).replace(
            minute=0, second=0, microsecond=0
        )
        shift = ShadowShift.objects.create(
            team=team,
            trainee=trainee,
            primary=primary,
            kind=kind,
            starts_at=starts,
            ends_at=starts + timedelta(hours=8),
            time_zone=team.time_zone,
            created_by=lead,
        )
        shift.book()
        shift.mark_done(by=primary)
        shifts.append(shift)
    return shifts


def _handled_pages(shifts: list[ShadowShift], *, count: int) -> None:
    """Live pages of these shifts, each reviewed "handled well" by the shift's
    primary (through the review workflow): what a respond-to-pages item counts."""
    alertname, service, slug = drills_demo.LIVE_ALERT
    runbook = Runbook.objects.filter(slug=slug).first()
    for n in range(count if shifts else 0):
        shift = shifts[n % len(shifts)]
        at = shift.starts_at + timedelta(hours=1 + 2 * (n // len(shifts)))
        page = AlertOccurrence.objects.create(
            fingerprint=f"demo-handled-{shift.pk}-{n}",
            starts_at=at,
            ends_at=at + timedelta(minutes=20),
            status=AlertOccurrence.Status.RESOLVED,
            team=shift.team,
            alertname=alertname,
            alert_key=alertname.lower(),
            labels={"alertname": alertname, "severity": "critical", "service": service},
            annotations={"summary": "5xx above 5% on payments-api"},
            runbook=runbook,
            received_at=at,
            last_seen_at=at + timedelta(minutes=20),
        )
        live.review(
            shift=shift,
            occurrence=page,
            by=shift.primary,
            mark=Response.Mark.HANDLED_WELL,
            account="Acknowledged in two minutes, opened the runbook, mitigated.",
            now=at + timedelta(minutes=30),
        )


def _progress(
    onboarding: Onboarding,
    *,
    lead,
    now,
    done: list[tuple[str, int]],
    runbooks_read: int,
    notes: dict[str, str] | None = None,
    sign_all: bool = False,
) -> None:
    """Tick items as if done ``days`` ago, read some runbooks, sign off where asked."""
    items = {item.title: item for item in onboarding.items.select_related("runbook")}
    engineer = onboarding.engineer
    latest = onboarding.started_at
    for title, days in done:
        item = items.get(title)
        if item is None or item.kind in (Kind.SHADOW_SHIFT, Kind.REVERSE_SHADOW_SHIFT):
            continue
        at = now - timedelta(days=days)
        item.done_at, item.done_by = at, engineer
        item.note = (notes or {}).get(title, "")
        item.save(update_fields=["done_at", "done_by", "note"])
        onboarding.log(Activity.Verb.TICK, actor=engineer, item=item, note=item.note, at=at)
        latest = max(latest, at)
    reads = [i for i in items.values() if i.kind == Kind.READ_RUNBOOK and i.runbook]
    for n, item in enumerate(reads[:runbooks_read]):
        revision = item.runbook.current_revision
        if revision is None:
            continue
        at = now - timedelta(days=8 - n)
        item.revision_read, item.done_at, item.done_by = revision, at, engineer
        item.save(update_fields=["revision_read", "done_at", "done_by"])
        onboarding.log(Activity.Verb.TICK, actor=engineer, item=item, at=at)
        latest = max(latest, at)
    if sign_all:
        for item in ItemProgress.objects.filter(onboarding=onboarding, needs_signoff=True):
            at = latest + timedelta(hours=2)
            item.signed_off_at, item.signed_off_by = at, lead
            item.save(update_fields=["signed_off_at", "signed_off_by"])
            onboarding.log(Activity.Verb.SIGN_OFF, actor=lead, item=item, at=at)
            latest = max(latest, at)
    Onboarding.objects.filter(pk=onboarding.pk).update(last_activity_at=latest)
    onboarding.last_activity_at = latest
    reconcile(onboarding)
    if onboarding.state == Onboarding.State.READY:
        Onboarding.objects.filter(pk=onboarding.pk).update(ready_at=latest)
