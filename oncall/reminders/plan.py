"""Planning by reconciliation: derive the reminders that should exist, upsert them.

Nothing elsewhere calls into reminders when a shift moves or a runbook
changes. Instead ``plan_reminders`` runs every minute, reads the current state
of shifts, runbooks and onboardings, and makes the outbox agree with it:

- every wanted reminder has a row, found by its ``dedupe_key``;
- a key holds the version of what it is about (a shift's start, a runbook's
  revision, a review date), so a moved shift wants a *new* row while an
  unchanged one keeps its old row, sent or not;
- a pending row nobody wants any more is cancelled (a moved, cancelled or
  debriefed shift, a re-read done, a channel switched off).

Running it twice, or in two processes at once, changes nothing the second time.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from oncall.alerts.coverage import digest_line
from oncall.readiness.models import ItemProgress, Onboarding
from oncall.reminders import live
from oncall.reminders.models import Reminder
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team

Kind = Reminder.Kind

# The longest lead time a profile accepts is 14 days; look one day further.
SHIFT_HORIZON = timedelta(days=15)
DEBRIEF_AFTER = timedelta(hours=2)
DEBRIEF_LOOKBACK = timedelta(days=7)
STALLED_AFTER = timedelta(days=7)
DIGEST_WEEKDAY = 0  # Monday
DIGEST_AT = time(9, 0)
# A digest stays wanted long enough to outlast any quiet window it was deferred by.
DIGEST_KEPT_FOR = timedelta(days=2)
MORNING = time(9, 0)
PLANNED_KINDS = [k for k in Kind if k != Kind.TEST]
CHUNK = 500  # keys per query: under SQLite's bound-parameter limit


@dataclass
class Wanted:
    recipient: object
    kind: str
    subject_key: str  # what the reminder is about, with its version
    due_at: datetime
    subject: str
    body: str
    link: str
    payload: dict = field(default_factory=dict)

    def rows(self) -> Iterator[Reminder]:
        """One row per channel the recipient has switched on."""
        for channel in channels_for(self.recipient):
            yield Reminder(
                recipient=self.recipient,
                kind=self.kind,
                channel=channel,
                due_at=self.due_at,
                next_attempt_at=self.due_at,
                dedupe_key=f"{self.kind}:{self.subject_key}:user:{self.recipient.pk}:{channel}",
                subject=self.subject[:300],
                body=self.body,
                link=self.link[:500],
                payload={"kind": self.kind, **self.payload},
            )


@dataclass
class PlanResult:
    wanted: int = 0
    created: int = 0
    updated: int = 0
    revived: int = 0
    cancelled: int = 0


def channels_for(user) -> list[str]:
    profile = user.profile
    channels = []
    if profile.email_enabled and user.email:
        channels.append(Reminder.Channel.EMAIL)
    if profile.webhook_enabled and profile.webhook_url:
        channels.append(Reminder.Channel.WEBHOOK)
    return channels


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def display_name(user) -> str:
    return user.get_full_name() or user.get_username()


def local_label(moment: datetime, tz: zoneinfo.ZoneInfo) -> str:
    """ "Tue 10 Mar 10:00 JST": the day is there because 24 h ahead is another day."""
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %H:%M %Z}"


def lead_label(lead: timedelta) -> str:
    minutes = int(lead.total_seconds() // 60)
    if minutes >= 60 and minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("in %(n)d hour", "in %(n)d hours", hours) % {"n": hours}
    return ngettext("in %(n)d minute", "in %(n)d minutes", minutes) % {"n": minutes}


def due_before(starts_at: datetime, lead: timedelta, tz: zoneinfo.ZoneInfo) -> datetime:
    """When a reminder ``lead`` before ``starts_at`` falls due.

    Whole days are counted on the wall clock of the shift's time zone: "24 h
    before" a 09:00 shift is 09:00 the day before, even across a DST change,
    because that is what the person means. Shorter leads are plain durations.
    """
    day = timedelta(days=1)
    if lead % day:
        return starts_at - lead
    local = starts_at.astimezone(tz).replace(tzinfo=None) - lead
    return local.replace(tzinfo=tz).astimezone(UTC)


def morning_of(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, MORNING, tzinfo=tz).astimezone(UTC)


# --- what should exist -------------------------------------------------------


def shift_upcoming(now: datetime) -> Iterator[Wanted]:
    """A reminder per lead time to the trainee and the primary of each coming shift.

    1. A lead time whose moment is still ahead is wanted.
    2. So is one whose moment passed while the shift stood as it is now (by
       ``updated_at``): it should have gone out, so it goes out late rather
       than never (a broker outage, a stopped worker).
    3. Moments that passed before the shift was set (short notice, or a move)
       are skipped, except that when *every* moment is gone the shortest one
       is sent at once: one "your shift starts soon", not a burst of stale ones.
    """
    shifts = ShadowShift.objects.filter(
        state=ShadowShift.State.SCHEDULED,
        starts_at__gt=now,
        starts_at__lte=now + SHIFT_HORIZON,
    ).select_related("team", "trainee__profile", "primary__profile")
    for shift in shifts:
        shift_tz = _zone(shift.time_zone, shift.team.tz)
        set_at = max(shift.updated_at, shift.created_at)
        for recipient, partner, role in (
            (shift.trainee, shift.primary, "trainee"),
            (shift.primary, shift.trainee, "primary"),
        ):
            dues = [
                (lead, due_before(shift.starts_at, lead, shift_tz))
                for lead in recipient.profile.reminder_lead_times()
            ]
            wanted = [(lead, due) for lead, due in dues if due > now or due >= set_at]
            if not wanted:
                wanted = [min(dues)]
            for lead, due in wanted:
                yield _shift_reminder(shift, recipient, partner, role, lead, due, now)


def _shift_reminder(shift, recipient, partner, role, lead, due, now) -> Wanted:
    tz = recipient.profile.tz
    kind_label = (
        _("Reverse-shadow shift")
        if shift.kind == ShadowShift.Kind.REVERSE_SHADOW
        else _("Shadow shift")
    )
    when = local_label(shift.starts_at, tz)
    # A late reminder says how long is really left, not the lead it was meant for.
    left = lead if due > now else min(lead, _round_minutes(shift.starts_at - now))
    if role == "trainee":
        who = _("with %(name)s") % {"name": display_name(partner)}
    else:
        who = _("with %(name)s (you are primary)") % {"name": display_name(partner)}
    subject = f"{kind_label} {who} {lead_label(left)} ({when})"
    ends = local_label(shift.ends_at, tz)
    body = "\n".join(
        [
            _("%(kind)s %(who)s, team %(team)s.")
            % {"kind": kind_label, "who": who, "team": shift.team},
            _("Starts: %(when)s") % {"when": when},
            _("Ends: %(when)s") % {"when": ends},
        ]
    )
    minutes = int(lead.total_seconds() // 60)
    return Wanted(
        recipient=recipient,
        kind=Kind.SHIFT_UPCOMING,
        subject_key=f"shift:{shift.uid}:{shift.starts_at.astimezone(UTC).isoformat()}:{minutes}",
        due_at=due,
        subject=subject,
        body=body,
        link=absolute_url(shift.get_absolute_url()),
        payload={
            "shift": str(shift.uid),
            "team": shift.team.slug,
            "role": role,
            "trainee": shift.trainee.get_username(),
            "primary": shift.primary.get_username(),
            "starts_at": shift.starts_at.astimezone(UTC).isoformat(),
            "ends_at": shift.ends_at.astimezone(UTC).isoformat(),
            "lead_minutes": minutes,
        },
    )


def debrief_due(now: datetime) -> Iterator[Wanted]:
    """A shift that ended two hours ago without a debrief: remind the trainee."""
    shifts = ShadowShift.objects.filter(
        state__in=[ShadowShift.State.SCHEDULED, ShadowShift.State.DONE],
        debriefed_at__isnull=True,
        ends_at__lte=now - DEBRIEF_AFTER,
        ends_at__gt=now - DEBRIEF_LOOKBACK,
    ).select_related("team", "trainee__profile", "primary")
    for shift in shifts:
        tz = shift.trainee.profile.tz
        yield Wanted(
            recipient=shift.trainee,
            kind=Kind.DEBRIEF_DUE,
            subject_key=f"shift:{shift.uid}",
            due_at=shift.ends_at + DEBRIEF_AFTER,
            subject=_("Write the debrief of your shift with %(name)s (%(when)s)")
            % {"name": display_name(shift.primary), "when": local_label(shift.starts_at, tz)},
            body=_(
                "What pages did you see, what made sense, what is still open, "
                "which runbooks were missing or wrong? Five minutes now saves the next trainee an hour."
            ),
            link=absolute_url(shift.get_absolute_url()),
            payload={"shift": str(shift.uid), "team": shift.team.slug},
        )


def review_due(now: datetime) -> Iterator[Wanted]:
    """A runbook past its review date: remind its owner (a username) on that morning."""
    runbooks = [
        rb
        for rb in Runbook.objects.filter(archived=False, review_every__isnull=False).exclude(
            owner=""
        )
        if rb.review_due_on() is not None
    ]
    owners = _users_by_username({rb.owner for rb in runbooks})
    for runbook in runbooks:
        owner = owners.get(runbook.owner)
        if owner is None:
            continue
        due_on = runbook.review_due_on()
        due = morning_of(due_on, owner.profile.tz)
        if due > now:
            continue
        yield Wanted(
            recipient=owner,
            kind=Kind.REVIEW_DUE,
            subject_key=f"runbook:{runbook.pk}:{due_on.isoformat()}",
            due_at=due,
            subject=_("Runbook “%(title)s” is due for review") % {"title": runbook.title},
            body=_("It was last reviewed %(last)s and should be every %(days)d days.")
            % {"last": runbook.last_reviewed or _("never"), "days": runbook.review_every},
            link=absolute_url(runbook.get_absolute_url()),
            payload={"runbook": runbook.slug, "review_due_on": due_on.isoformat()},
        )


def item_overdue(now: datetime) -> Iterator[Wanted]:
    """An onboarding past its target date with required items left: its engineer and lead."""
    onboardings = (
        Onboarding.objects.filter(
            state=Onboarding.State.IN_PROGRESS,
            target_date__isnull=False,
            target_date__lt=now.date(),
        )
        .annotate(left=Count("items", filter=Q(items__required=True, items__done_at__isnull=True)))
        .filter(left__gt=0)
        .select_related("team", "engineer__profile", "lead__profile")
    )
    for onboarding in onboardings:
        due = morning_of(onboarding.target_date + timedelta(days=1), onboarding.team.tz)
        if due > now:
            continue
        for recipient in _engineer_and_lead(onboarding):
            yield Wanted(
                recipient=recipient,
                kind=Kind.ITEM_OVERDUE,
                subject_key=f"onboarding:{onboarding.pk}:{onboarding.target_date.isoformat()}",
                due_at=due,
                subject=ngettext(
                    "%(name)s's onboarding is past its target date with %(n)d item left",
                    "%(name)s's onboarding is past its target date with %(n)d items left",
                    onboarding.left,
                )
                % {"name": display_name(onboarding.engineer), "n": onboarding.left},
                body=_(
                    "Target date: %(date)s. Pick the next item, or agree a new date with your lead."
                )
                % {"date": onboarding.target_date.isoformat()},
                link=absolute_url(onboarding.get_absolute_url()),
                payload={
                    "onboarding": onboarding.pk,
                    "team": onboarding.team.slug,
                    "engineer": onboarding.engineer.get_username(),
                    "target_date": onboarding.target_date.isoformat(),
                    "required_items_left": onboarding.left,
                },
            )


def onboarding_stalled(now: datetime) -> Iterator[Wanted]:
    """No progress for seven days: nudge the engineer and the lead, once per stall."""
    onboardings = Onboarding.objects.filter(
        state=Onboarding.State.IN_PROGRESS, last_activity_at__lte=now - STALLED_AFTER
    ).select_related("team", "engineer__profile", "lead__profile")
    for onboarding in onboardings:
        since = onboarding.last_activity_at
        for recipient in _engineer_and_lead(onboarding):
            yield Wanted(
                recipient=recipient,
                kind=Kind.ONBOARDING_STALLED,
                subject_key=f"onboarding:{onboarding.pk}:{since.astimezone(UTC).isoformat()}",
                due_at=since + STALLED_AFTER,
                subject=_("%(name)s's onboarding has had no progress for %(days)d days")
                % {"name": display_name(onboarding.engineer), "days": (now - since).days},
                body=_("Last activity: %(when)s.")
                % {"when": local_label(since, recipient.profile.tz)},
                link=absolute_url(onboarding.get_absolute_url()),
                payload={
                    "onboarding": onboarding.pk,
                    "team": onboarding.team.slug,
                    "engineer": onboarding.engineer.get_username(),
                    "last_activity_at": since.astimezone(UTC).isoformat(),
                },
            )


def reread_needed(now: datetime) -> Iterator[Wanted]:
    """A required runbook changed after the engineer read it: once per new revision."""
    items = (
        ItemProgress.objects.filter(
            kind=ItemProgress.Kind.READ_RUNBOOK,
            required=True,
            revision_read__isnull=False,
            runbook__current_revision__isnull=False,
            onboarding__state__in=[Onboarding.State.IN_PROGRESS, Onboarding.State.READY],
        )
        .exclude(runbook__current_revision=F("revision_read"))
        .select_related("onboarding__engineer__profile", "runbook__current_revision")
    )
    for item in items:
        revision = item.runbook.current_revision
        engineer = item.onboarding.engineer
        yield Wanted(
            recipient=engineer,
            kind=Kind.REREAD_NEEDED,
            subject_key=f"item:{item.pk}:rev:{revision.pk}",
            due_at=revision.created_at,
            subject=_("Runbook “%(title)s” changed since you read it")
            % {"title": item.runbook.title},
            body=_("Read it again at revision %(n)d to keep the item done.")
            % {"n": revision.number},
            link=absolute_url(item.runbook.get_absolute_url()),
            payload={
                "runbook": item.runbook.slug,
                "revision": revision.number,
                "onboarding": item.onboarding_id,
            },
        )


def weekly_digest(now: datetime) -> Iterator[Wanted]:
    """Each team's lead gets the week's digest on Monday at 09:00 in the team's zone."""
    leads_by_team: dict[int, list] = {}
    for membership in Membership.objects.filter(role=Membership.Role.LEAD).select_related(
        "user__profile"
    ):
        leads_by_team.setdefault(membership.team_id, []).append(membership.user)
    for team in Team.objects.filter(pk__in=leads_by_team):
        local = now.astimezone(team.tz)
        this_monday = local.date() - timedelta(days=(local.weekday() - DIGEST_WEEKDAY) % 7)
        mondays = [
            monday
            for monday in (this_monday - timedelta(days=7), this_monday)
            if now - _digest_due(monday, team.tz) <= DIGEST_KEPT_FOR
        ]
        if not mondays:
            continue
        subject, body, payload = _digest_content(team, now)
        for monday in mondays:
            for lead in leads_by_team[team.pk]:
                yield Wanted(
                    recipient=lead,
                    kind=Kind.WEEKLY_DIGEST,
                    subject_key=f"team:{team.slug}:{monday.isoformat()}",
                    due_at=_digest_due(monday, team.tz),
                    subject=subject,
                    body=body,
                    link=absolute_url(f"/teams/{team.slug}/readiness/"),
                    payload={"team": team.slug, "week_of": monday.isoformat(), **payload},
                )


def _digest_due(monday: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(monday, DIGEST_AT, tzinfo=tz).astimezone(UTC)


def _digest_content(team: Team, now: datetime) -> tuple[str, str, dict]:
    onboardings = list(
        Onboarding.objects.filter(team=team)
        .exclude(state=Onboarding.State.CLEARED)
        .annotate(
            required=Count("items", filter=Q(items__required=True)),
            done=Count("items", filter=Q(items__required=True, items__done_at__isnull=False)),
        )
        .select_related("engineer")
        .order_by("engineer__username")
    )
    ready = sum(1 for o in onboardings if o.state == Onboarding.State.READY)
    week_ahead = ShadowShift.objects.filter(
        team=team,
        state=ShadowShift.State.SCHEDULED,
        starts_at__gte=now,
        starts_at__lt=now + timedelta(days=7),
    ).count()
    review = sum(
        1
        for rb in Runbook.objects.filter(team=team, archived=False, review_every__isnull=False)
        if rb.is_review_overdue(now.date())
    )
    subject = _("%(team)s this week: %(ready)d ready, %(going)d onboarding, %(shifts)d shifts") % {
        "team": team.name,
        "ready": ready,
        "going": len(onboardings) - ready,
        "shifts": week_ahead,
    }
    lines = [
        _("%(name)s: %(done)d of %(required)d required items, %(state)s%(late)s")
        % {
            "name": display_name(o.engineer),
            "done": o.done,
            "required": o.required,
            "state": o.get_state_display(),
            "late": _(", past target date")
            if o.target_date and o.target_date < now.date() and o.state != Onboarding.State.READY
            else "",
        }
        for o in onboardings
    ] or [_("Nobody is onboarding right now.")]
    lines.append(
        ngettext(
            "%(n)d shadow shift in the next 7 days.",
            "%(n)d shadow shifts in the next 7 days.",
            week_ahead,
        )
        % {"n": week_ahead}
    )
    if review:
        lines.append(
            ngettext(
                "%(n)d runbook is due for review.", "%(n)d runbooks are due for review.", review
            )
            % {"n": review}
        )
    if unrunbooked := digest_line(team=team, now=now):
        lines.append(unrunbooked)
    payload = {
        "ready": ready,
        "onboarding": len(onboardings) - ready,
        "shifts_next_7_days": week_ahead,
        "runbooks_due_for_review": review,
    }
    return subject, "\n".join(lines), payload


def live_page(now: datetime) -> Iterator[Wanted]:
    """Alerts firing during a shift, to the people on it (see live.py)."""
    return (Wanted(**fields) for fields in live.pages(now))


PLANNERS = [
    live_page,
    shift_upcoming,
    debrief_due,
    review_due,
    item_overdue,
    onboarding_stalled,
    reread_needed,
    weekly_digest,
]


# --- making the outbox agree -------------------------------------------------


def plan_reminders(*, now: datetime | None = None) -> PlanResult:
    """Upsert every wanted reminder and cancel pending ones no longer wanted.

    1. Ask each planner what should exist now; one row per recipient channel.
    2. Insert the keys that have no row (``ignore_conflicts``: a planner
       racing us cannot make a second row for a key).
    3. Refresh the text of rows still pending, so a digest says this
       minute's numbers; sent and failed rows are history and stay as they are.
    4. Revive a cancelled row whose key is wanted again (a shift moved back).
    5. Cancel pending rows whose keys nobody wants: the conditional UPDATE
       leaves alone a row dispatch claimed meanwhile.
    """
    now = now or timezone.now()
    result = PlanResult()
    wanted: dict[str, Reminder] = {}
    for planner in PLANNERS:
        for want in planner(now):
            for row in want.rows():
                wanted.setdefault(row.dedupe_key, row)
    result.wanted = len(wanted)

    existing: dict[str, Reminder] = {}
    keys = list(wanted)
    for start in range(0, len(keys), CHUNK):
        for row in Reminder.objects.filter(dedupe_key__in=keys[start : start + CHUNK]).only(
            "pk", "dedupe_key", "state", "subject", "body", "link", "payload"
        ):
            existing[row.dedupe_key] = row

    new = [row for key, row in wanted.items() if key not in existing]
    if new:
        result.created = len(Reminder.objects.bulk_create(new, ignore_conflicts=True))

    stale, revive = [], []
    for key, row in existing.items():
        want = wanted[key]
        if row.state == Reminder.State.CANCELLED:
            revive.append(key)
        if row.state in (Reminder.State.PENDING, Reminder.State.CANCELLED) and (
            (row.subject, row.body, row.link, row.payload)
            != (want.subject, want.body, want.link, want.payload)
        ):
            row.subject, row.body, row.link, row.payload = (
                want.subject,
                want.body,
                want.link,
                want.payload,
            )
            row.updated_at = now
            stale.append(row)
    if stale:
        Reminder.objects.bulk_update(
            stale, ["subject", "body", "link", "payload", "updated_at"], batch_size=CHUNK
        )
        result.updated = len(stale)
    for key in revive:
        row = wanted[key]
        result.revived += Reminder.objects.filter(
            pk=existing[key].pk, state=Reminder.State.CANCELLED
        ).update(
            state=Reminder.State.PENDING,
            next_attempt_at=row.due_at,
            attempts=0,
            last_error="",
            updated_at=now,
        )

    unwanted = [
        pk
        for pk, key in Reminder.objects.filter(
            state=Reminder.State.PENDING, kind__in=PLANNED_KINDS
        ).values_list("pk", "dedupe_key")
        if key not in wanted
    ]
    for start in range(0, len(unwanted), CHUNK):
        result.cancelled += Reminder.objects.filter(
            pk__in=unwanted[start : start + CHUNK], state=Reminder.State.PENDING
        ).update(state=Reminder.State.CANCELLED, updated_at=now)
    return result


# --- small helpers -----------------------------------------------------------


def _zone(name: str, fallback: zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return fallback


def _round_minutes(delta: timedelta) -> timedelta:
    return timedelta(minutes=max(1, round(delta.total_seconds() / 60)))


def _engineer_and_lead(onboarding: Onboarding) -> Iterable:
    people = [onboarding.engineer]
    if onboarding.lead is not None and onboarding.lead_id != onboarding.engineer_id:
        people.append(onboarding.lead)
    return people


def _users_by_username(usernames: set[str]) -> dict:
    User = get_user_model()
    field_name = User.USERNAME_FIELD
    users = User.objects.filter(**{f"{field_name}__in": usernames, "is_active": True})
    return {u.get_username(): u for u in users.select_related("profile")}
