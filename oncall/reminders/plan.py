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

import logging
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from oncall.alerts.coverage import digest_line
from oncall.drills.models import Drill
from oncall.readiness.models import ItemProgress, Onboarding
from oncall.reminders import live, outbox, practice
from oncall.reminders.models import Reminder
from oncall.reminders.moments import (
    lead_label,
    local_label,
    round_minutes,
    upcoming_dues,
)
from oncall.runbooks.models import Runbook
from oncall.shifts import flags
from oncall.shifts.models import ScheduleChange, ShadowShift
from oncall.teams.dates import format_date, format_span
from oncall.teams.language import language_of, speaking
from oncall.teams.models import Membership, Team
from oncall.teams.people import display_name

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
# A lapsed sign-off is worth telling its lead about for a week.
WITHDRAWN_LOOKBACK = timedelta(days=7)
# A schedule change is worth telling about for two days (then it is old news).
CHANGE_LOOKBACK = timedelta(days=2)
ANSWER_LOOKBACK = timedelta(days=2)
# Flags from debriefs older than this are left to the dashboard and the page.
FLAG_LOOKBACK = timedelta(days=30)

logger = logging.getLogger(__name__)

# Kinds whose planning failed for some source row in the run under way: their
# pending reminders are kept, not cancelled, since nobody can say they are unwanted.
_failed_kinds: ContextVar[set | None] = ContextVar("failed_kinds", default=None)


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
    skipped: int = 0  # source rows (or whole planners) that raised and were left out
    refused: int = 0  # rows the database refused to insert or refresh (see outbox.py)


def each_row(rows: Iterable, build: Callable[..., Iterable[Wanted]], *, kind: str) -> Iterator:
    """What ``build`` wants for each source row; one bad row fails alone.

    A row that raises is logged with its kind and id, counted, and skipped:
    every other reminder is still planned, and the skipped kind's pending
    reminders are kept rather than cancelled this round.
    """
    for row in rows:
        try:
            wanted = list(build(row))
        except Exception:
            logger.exception(
                "planning %s reminders failed for %s %s; skipped",
                kind,
                type(row).__name__,
                getattr(row, "pk", row),
            )
            _note_failure(kind)
            continue
        yield from wanted


def _note_failure(kind: str | None) -> None:
    failed = _failed_kinds.get()
    if failed is not None:
        failed.add(kind)


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


def local_day(moment: datetime, tz: zoneinfo.ZoneInfo) -> str:
    """ "Tue 8 Dec" / "12月8日(火)": the day a shift was on, in the reader's zone."""
    return format_date(moment.astimezone(tz), "weekday_day")


def morning_of(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, MORNING, tzinfo=tz).astimezone(UTC)


# --- what should exist -------------------------------------------------------


def shift_upcoming(now: datetime) -> Iterator[Wanted]:
    """A reminder per lead time to the trainee and the primary of each coming shift,
    at the moments ``moments.upcoming_dues`` picks (the shift set at its ``updated_at``)."""
    shifts = ShadowShift.objects.filter(
        state=ShadowShift.State.SCHEDULED,
        starts_at__gt=now,
        starts_at__lte=now + SHIFT_HORIZON,
    ).select_related("team", "trainee__profile", "primary__profile")
    return each_row(shifts, lambda shift: _shift_upcoming_for(shift, now), kind=Kind.SHIFT_UPCOMING)


def _shift_upcoming_for(shift: ShadowShift, now: datetime) -> Iterator[Wanted]:
    shift_tz = _zone(shift.time_zone, shift.team.tz)
    set_at = max(shift.updated_at, shift.created_at)
    for recipient, partner, role in (
        (shift.trainee, shift.primary, "trainee"),
        (shift.primary, shift.trainee, "primary"),
    ):
        leads = recipient.profile.reminder_lead_times()
        for lead, due in upcoming_dues(shift.starts_at, leads, shift_tz, set_at=set_at, now=now):
            with speaking(recipient):
                reminder = _shift_reminder(shift, recipient, partner, role, lead, due, now)
            yield reminder


def _shift_reminder(shift, recipient, partner, role, lead, due, now) -> Wanted:
    tz = recipient.profile.tz
    kind_label = (
        _("Reverse-shadow shift")
        if shift.kind == ShadowShift.Kind.REVERSE_SHADOW
        else _("Shadow shift")
    )
    when = local_label(shift.starts_at, tz)
    # A late reminder says how long is really left, not the lead it was meant for.
    left = lead if due > now else min(lead, round_minutes(shift.starts_at - now))
    if role == "trainee":
        who = _("with %(name)s") % {"name": display_name(partner)}
    else:
        who = _("with %(name)s (you are primary)") % {"name": display_name(partner)}
    subject = _("%(kind)s %(who)s %(lead)s (%(when)s)") % {
        "kind": kind_label,
        "who": who,
        "lead": lead_label(left),
        "when": when,
    }
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
    return each_row(shifts, _debrief_due_for, kind=Kind.DEBRIEF_DUE)


def _debrief_due_for(shift: ShadowShift) -> Iterator[Wanted]:
    tz = shift.trainee.profile.tz
    with speaking(shift.trainee):
        wanted = Wanted(
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
    yield wanted


def review_due(now: datetime) -> Iterator[Wanted]:
    """A runbook past its review date: remind its owner (a username) on that morning."""
    runbooks = list(
        Runbook.objects.filter(archived=False, review_every__isnull=False).exclude(owner="")
    )
    owners = _users_by_username({rb.owner for rb in runbooks})
    return each_row(
        runbooks, lambda runbook: _review_due_for(runbook, owners, now), kind=Kind.REVIEW_DUE
    )


def _review_due_for(runbook: Runbook, owners: dict, now: datetime) -> Iterator[Wanted]:
    owner = owners.get(runbook.owner)
    due_on = runbook.review_due_on()
    if owner is None or due_on is None:
        return
    due = morning_of(due_on, owner.profile.tz)
    if due > now:
        return
    with speaking(owner):
        wanted = Wanted(
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
    yield wanted


def runbook_flagged(now: datetime) -> Iterator[Wanted]:
    """A debrief flagged a runbook as missing or wrong: its review comes forward, to its owner."""
    flagged = (
        Runbook.objects.filter(
            archived=False,
            debriefs__debriefed_at__gt=now - FLAG_LOOKBACK,
        )
        .exclude(owner="")
        .select_related("current_revision")
        .distinct()
    )
    runbooks = list(flagged)
    owners = _users_by_username({rb.owner for rb in runbooks})
    return each_row(runbooks, lambda rb: _flagged_for(rb, owners), kind=Kind.REVIEW_DUE)


def _flagged_for(runbook: Runbook, owners: dict) -> Iterator[Wanted]:
    owner = owners.get(runbook.owner)
    open_ = flags.open_flags(runbook)
    if owner is None or not open_.shifts:
        return
    latest = open_.latest
    n = len(open_.shifts)
    with speaking(owner):
        flagged_words = _("marked as missing or wrong")
        wanted = Wanted(
            recipient=owner,
            kind=Kind.REVIEW_DUE,
            subject_key=f"runbook:{runbook.pk}:flagged:{latest.astimezone(UTC).isoformat()}",
            due_at=latest,
            subject=ngettext(
                "Runbook “%(title)s” was flagged in %(n)d debrief: review it now",
                "Runbook “%(title)s” was flagged in %(n)d debriefs: review it now",
                n,
            )
            % {"title": runbook.title, "n": n},
            body="\n".join(
                f"- {display_name(s.trainee)}: {s.debrief_runbook_gaps or flagged_words}"
                for s in open_.shifts
            ),
            link=absolute_url(runbook.get_absolute_url()),
            payload={"runbook": runbook.slug, "flagged_in": n},
        )
    yield wanted


def item_overdue(now: datetime) -> Iterator[Wanted]:
    """An onboarding past its target date with required items left: its engineer and lead.

    "Items left" is the gate's, as the last reconcile stored it: shifts count
    once confirmed and runbooks once read at their current revision.
    """
    onboardings = Onboarding.objects.filter(
        state=Onboarding.State.IN_PROGRESS,
        target_date__isnull=False,
        target_date__lt=now.date(),
        required_done__lt=F("required_total"),
    ).select_related("team", "engineer__profile", "lead__profile")
    return each_row(
        onboardings, lambda onboarding: _item_overdue_for(onboarding, now), kind=Kind.ITEM_OVERDUE
    )


def _item_overdue_for(onboarding: Onboarding, now: datetime) -> Iterator[Wanted]:
    due = morning_of(onboarding.target_date + timedelta(days=1), onboarding.team.tz)
    if due > now:
        return
    left = onboarding.required_left
    for recipient in _engineer_and_lead(onboarding):
        with speaking(recipient):
            wanted = Wanted(
                recipient=recipient,
                kind=Kind.ITEM_OVERDUE,
                subject_key=f"onboarding:{onboarding.pk}:{onboarding.target_date.isoformat()}",
                due_at=due,
                subject=ngettext(
                    "%(name)s's onboarding is past its target date with %(n)d item left",
                    "%(name)s's onboarding is past its target date with %(n)d items left",
                    left,
                )
                % {"name": display_name(onboarding.engineer), "n": left},
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
                    "required_items_left": left,
                    "progress_percent": onboarding.percent,
                },
            )
        yield wanted


def onboarding_stalled(now: datetime) -> Iterator[Wanted]:
    """No progress for seven days: nudge the engineer and the lead, once per stall."""
    onboardings = Onboarding.objects.filter(
        state=Onboarding.State.IN_PROGRESS, last_activity_at__lte=now - STALLED_AFTER
    ).select_related("team", "engineer__profile", "lead__profile")
    return each_row(
        onboardings,
        lambda onboarding: _stalled_for(onboarding, now),
        kind=Kind.ONBOARDING_STALLED,
    )


def _stalled_for(onboarding: Onboarding, now: datetime) -> Iterator[Wanted]:
    since = onboarding.last_activity_at
    for recipient in _engineer_and_lead(onboarding):
        with speaking(recipient):
            wanted = Wanted(
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
        yield wanted


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
    return each_row(items, _reread_for, kind=Kind.REREAD_NEEDED)


def _reread_for(item: ItemProgress) -> Iterator[Wanted]:
    revision = item.runbook.current_revision
    engineer = item.onboarding.engineer
    with speaking(engineer):
        wanted = Wanted(
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
    yield wanted


def debrief_answered(now: datetime) -> Iterator[Wanted]:
    """The primary answered a debrief: tell the trainee, once per answer."""
    shifts = ShadowShift.objects.filter(
        answered_at__isnull=False, answered_at__gt=now - ANSWER_LOOKBACK
    ).select_related("team", "trainee__profile", "primary")
    return each_row(shifts, _answered_for, kind=Kind.DEBRIEF_ANSWERED)


def _answered_for(shift: ShadowShift) -> Iterator[Wanted]:
    if shift.answered_by_id == shift.trainee_id:
        return
    tz = shift.trainee.profile.tz
    answered = [q for q, a in shift.answered_questions if a]
    with speaking(shift.trainee):
        wanted = Wanted(
            recipient=shift.trainee,
            kind=Kind.DEBRIEF_ANSWERED,
            subject_key=f"shift:{shift.uid}:{shift.answered_at.astimezone(UTC).isoformat()}",
            due_at=shift.answered_at,
            subject=_("%(name)s answered your debrief of %(when)s")
            % {"name": display_name(shift.primary), "when": local_label(shift.starts_at, tz)},
            body=ngettext("%(n)d question answered.", "%(n)d questions answered.", len(answered))
            % {"n": len(answered)},
            link=absolute_url(f"{shift.get_absolute_url()}#answer"),
            payload={"shift": str(shift.uid), "team": shift.team.slug, "answered": len(answered)},
        )
    yield wanted


def schedule_changed(now: datetime) -> Iterator[Wanted]:
    """A lead scheduled, moved or cancelled shifts: one notice per person on them, per change.

    Never to the person who made the change; a series is one notice ("4 shifts moved").
    """
    changes = (
        ScheduleChange.objects.filter(at__gt=now - CHANGE_LOOKBACK)
        .select_related("by")
        .prefetch_related("people__profile", "shifts__team", "shifts__trainee", "shifts__primary")
    )
    return each_row(changes, _change_notices, kind=Kind.SCHEDULE_CHANGED)


def _change_notices(change: ScheduleChange) -> Iterator[Wanted]:
    shifts = sorted(change.shifts.all(), key=lambda s: s.starts_at)
    if not shifts:
        return
    for person in change.people.all():
        if person.pk == change.by_id or not person.is_active:
            continue
        mine = [s for s in shifts if person.pk in (s.trainee_id, s.primary_id)] or shifts
        tz = person.profile.tz
        with speaking(person):
            subject, lines = _change_words(change, mine, tz)
            wanted = Wanted(
                recipient=person,
                kind=Kind.SCHEDULE_CHANGED,
                subject_key=f"change:{change.pk}",
                due_at=change.at,
                subject=subject,
                body="\n".join(lines),
                link=absolute_url(mine[0].get_absolute_url()),
                payload={
                    "change": change.what,
                    "by": change.by.get_username() if change.by else "",
                    "shifts": [str(s.uid) for s in mine],
                },
            )
        yield wanted


def _change_words(change: ScheduleChange, shifts: list, tz) -> tuple[str, list[str]]:
    """ "Your shadow shift on Tue 8 Dec moved to 22:00–06:00 JST", or "4 shifts moved"."""
    first = shifts[0]
    span = format_span(first.starts_at, first.ends_at, tz)
    kind = first.get_kind_display()
    What = ScheduleChange.What
    if len(shifts) == 1:
        if change.what == What.MOVED:
            was = change.before.get(str(first.pk))
            day = local_day(datetime.fromisoformat(was[0]) if was else first.starts_at, tz)
            subject = _("Your %(kind)s shift on %(day)s moved to %(span)s") % {
                "kind": kind,
                "day": day,
                "span": span,
            }
        elif change.what == What.CANCELLED:
            subject = _("Your %(kind)s shift on %(span)s was cancelled") % {
                "kind": kind,
                "span": span,
            }
        else:
            subject = _("New %(kind)s shift for you: %(span)s") % {"kind": kind, "span": span}
    else:
        n = len(shifts)
        subject = {
            What.MOVED: ngettext("%(n)d shift moved", "%(n)d shifts moved", n),
            What.CANCELLED: ngettext("%(n)d shift cancelled", "%(n)d shifts cancelled", n),
            What.SCHEDULED: ngettext("%(n)d new shift for you", "%(n)d new shifts for you", n),
        }[change.what] % {"n": n}
    lines = [
        f"{format_span(s.starts_at, s.ends_at, tz)} · {s.get_kind_display()} · "
        + _("%(trainee)s with %(primary)s")
        % {"trainee": display_name(s.trainee), "primary": display_name(s.primary)}
        for s in shifts
    ]
    if change.by is not None:
        lines.append(_("Changed by %(name)s.") % {"name": display_name(change.by)})
    return subject, lines


def signoff_withdrawn(now: datetime) -> Iterator[Wanted]:
    """A lead's sign-off lapsed because the item changed after it: tell that lead, once."""
    items = (
        ItemProgress.objects.filter(
            signoff_withdrawn_at__isnull=False,
            signoff_withdrawn_at__gt=now - WITHDRAWN_LOOKBACK,
            signoff_withdrawn_from__isnull=False,
            signed_off_at__isnull=True,
        )
        .exclude(onboarding__state=Onboarding.State.CLEARED)
        .select_related(
            "onboarding__engineer", "onboarding__team", "signoff_withdrawn_from__profile"
        )
    )
    return each_row(items, _withdrawn_for, kind=Kind.SIGNOFF_WITHDRAWN)


def _withdrawn_for(item: ItemProgress) -> Iterator[Wanted]:
    lead = item.signoff_withdrawn_from
    onboarding = item.onboarding
    if not lead.is_active or lead.pk == onboarding.engineer_id:
        return
    at = item.signoff_withdrawn_at
    with speaking(lead):
        wanted = Wanted(
            recipient=lead,
            kind=Kind.SIGNOFF_WITHDRAWN,
            subject_key=f"item:{item.pk}:{at.astimezone(UTC).isoformat()}",
            due_at=at,
            subject=_("Your sign-off on “%(title)s” for %(name)s lapsed")
            % {"title": item.title, "name": display_name(onboarding.engineer)},
            body=_(
                "The item was unticked or its note changed after you signed it off (%(when)s). "
                "Look at it again and sign off what is there now."
            )
            % {"when": local_label(at, lead.profile.tz)},
            link=absolute_url(f"{onboarding.get_absolute_url()}#item-{item.pk}"),
            payload={
                "onboarding": onboarding.pk,
                "team": onboarding.team.slug,
                "engineer": onboarding.engineer.get_username(),
                "item": item.title,
                "withdrawn_at": at.astimezone(UTC).isoformat(),
            },
        )
    yield wanted


def weekly_digest(now: datetime) -> Iterator[Wanted]:
    """Each team's lead gets the week's digest on Monday at 09:00 in the team's zone."""
    leads_by_team: dict[int, list] = {}
    for membership in Membership.objects.filter(role=Membership.Role.LEAD).select_related(
        "user__profile"
    ):
        leads_by_team.setdefault(membership.team_id, []).append(membership.user)
    teams = Team.objects.filter(pk__in=leads_by_team)
    return each_row(
        teams,
        lambda team: _digest_for(team, leads_by_team[team.pk], now),
        kind=Kind.WEEKLY_DIGEST,
    )


def _digest_for(team: Team, leads: list, now: datetime) -> Iterator[Wanted]:
    local = now.astimezone(team.tz)
    this_monday = local.date() - timedelta(days=(local.weekday() - DIGEST_WEEKDAY) % 7)
    mondays = [
        monday
        for monday in (this_monday - timedelta(days=7), this_monday)
        if now - _digest_due(monday, team.tz) <= DIGEST_KEPT_FOR
    ]
    if not mondays:
        return
    contents = {}  # one digest per language the leads read
    for monday in mondays:
        for lead in leads:
            language = language_of(lead)
            if language not in contents:
                with speaking(lead):
                    contents[language] = _digest_content(team, now)
            subject, body, payload = contents[language]
            with speaking(lead):
                wanted = Wanted(
                    recipient=lead,
                    kind=Kind.WEEKLY_DIGEST,
                    subject_key=f"team:{team.slug}:{monday.isoformat()}",
                    due_at=_digest_due(monday, team.tz),
                    subject=subject,
                    body=body,
                    link=absolute_url(f"/teams/{team.slug}/readiness/"),
                    payload={"team": team.slug, "week_of": monday.isoformat(), **payload},
                )
            yield wanted


def _digest_due(monday: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(monday, DIGEST_AT, tzinfo=tz).astimezone(UTC)


def _digest_content(team: Team, now: datetime) -> tuple[str, str, dict]:
    # The gate's counts as reconcile stored them, the same the dashboard shows.
    onboardings = list(
        Onboarding.objects.filter(team=team)
        .exclude(state=Onboarding.State.CLEARED)
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
        if _overdue_for_review(rb, now.date())
    )
    subject = _("%(team)s this week: %(ready)d ready, %(going)d onboarding, %(shifts)d shifts") % {
        "team": team.name,
        "ready": ready,
        "going": len(onboardings) - ready,
        "shifts": week_ahead,
    }
    lines = [
        _("%(name)s: %(done)d of %(required)d required items (%(percent)d%%), %(state)s%(late)s")
        % {
            "name": display_name(o.engineer),
            "done": o.required_done,
            "required": o.required_total,
            "percent": o.percent,
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
    drills = Drill.objects.filter(
        team=team,
        state=Drill.State.GRADED,
        graded_at__gte=now - timedelta(days=7),
        graded_at__lt=now,
    ).aggregate(graded=Count("id"), passed=Count("id", filter=Q(grade=Drill.Grade.PASS)))
    if drills["graded"]:
        lines.append(
            ngettext(
                "%(n)d drill graded this week, %(passed)d passed.",
                "%(n)d drills graded this week, %(passed)d passed.",
                drills["graded"],
            )
            % {"n": drills["graded"], "passed": drills["passed"]}
        )
    payload = {
        "ready": ready,
        "onboarding": len(onboardings) - ready,
        "shifts_next_7_days": week_ahead,
        "runbooks_due_for_review": review,
        "drills_graded_this_week": drills["graded"],
        "drills_passed_this_week": drills["passed"],
    }
    return subject, "\n".join(lines), payload


def live_page(now: datetime) -> Iterator[Wanted]:
    """Alerts firing during a shift, to the people on it (see live.py)."""
    return each_row(
        live.alerts_in_shifts(now),
        lambda alert: [Wanted(**fields) for fields in live.pages(alert, now)],
        kind=Kind.LIVE_PAGE,
    )


def _practice(source, build, *, kind: str) -> Callable[[datetime], Iterator[Wanted]]:
    """A planner for one of practice.py's kinds: ``build(row, now)`` for each ``source(now)`` row."""

    def planner(now: datetime) -> Iterator[Wanted]:
        return each_row(
            source(now),
            lambda row: [Wanted(**fields) for fields in build(row, now)],
            kind=kind,
        )

    planner.__name__ = kind
    return planner


drill_page = _practice(practice.pages_of_running_drills, practice.drill_page, kind=Kind.DRILL_PAGE)
drill_upcoming = _practice(
    practice.coming_drills, practice.drill_upcoming, kind=Kind.DRILL_UPCOMING
)
page_escalated = _practice(
    practice.unacknowledged_pages, practice.page_escalated, kind=Kind.PAGE_ESCALATED
)


PLANNERS = [
    live_page,
    page_escalated,
    drill_page,
    drill_upcoming,
    shift_upcoming,
    debrief_due,
    review_due,
    runbook_flagged,
    item_overdue,
    onboarding_stalled,
    reread_needed,
    signoff_withdrawn,
    schedule_changed,
    debrief_answered,
    weekly_digest,
]


# --- making the outbox agree -------------------------------------------------


def plan_reminders(*, now: datetime | None = None) -> PlanResult:
    """Upsert every wanted reminder and cancel pending ones no longer wanted.

    1. Ask each planner what should exist now; one row per recipient channel.
       A source row (or a planner) that raises is logged and skipped; the
       rest is planned, and the failed kinds' pending rows are not cancelled.
    2. Insert the keys that have no row (``ignore_conflicts``: a planner
       racing us cannot make a second row for a key).
    3. Refresh the text of rows still pending, so a digest says this
       minute's numbers; sent and failed rows are history and stay as they are.
       In steps 2 and 3 a row the database refuses is logged, counted and
       skipped; the others are written (``outbox.py``).
    4. Revive a cancelled row whose key is wanted again (a shift moved back).
    5. Cancel pending rows whose keys nobody wants: the conditional UPDATE
       leaves alone a row dispatch claimed meanwhile.
    """
    now = now or timezone.now()
    result = PlanResult()
    wanted: dict[str, Reminder] = {}
    failed: set = set()
    token = _failed_kinds.set(failed)
    try:
        for planner in PLANNERS:
            try:
                wants = list(planner(now))
            except Exception:
                # The planner's own query failed: nothing of it can be trusted.
                logger.exception("reminder planner %s failed; skipped", planner.__name__)
                failed.add(None)
                continue
            for want in wants:
                try:
                    rows = list(want.rows())
                except Exception:
                    logger.exception(
                        "building %s reminder for user %s failed; skipped",
                        want.kind,
                        getattr(want.recipient, "pk", None),
                    )
                    failed.add(want.kind)
                    continue
                for row in rows:
                    wanted.setdefault(row.dedupe_key, row)
    finally:
        _failed_kinds.reset(token)
    result.wanted = len(wanted)
    result.skipped = len(failed)

    existing: dict[str, Reminder] = {}
    keys = list(wanted)
    for start in range(0, len(keys), CHUNK):
        for row in Reminder.objects.filter(dedupe_key__in=keys[start : start + CHUNK]).only(
            "pk", "dedupe_key", "state", "subject", "body", "link", "payload"
        ):
            existing[row.dedupe_key] = row

    new = [row for key, row in wanted.items() if key not in existing]
    inserted = outbox.insert(new)
    result.created = inserted.done

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
    refreshed = outbox.refresh(stale, ["subject", "body", "link", "payload", "updated_at"])
    result.updated = refreshed.done
    result.refused = inserted.refused + refreshed.refused
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

    # Kinds that failed somewhere keep their pending rows; a whole planner
    # failing keeps everyone's.
    keep_kinds = set(PLANNED_KINDS) if None in failed else failed
    unwanted = [
        pk
        for pk, key in Reminder.objects.filter(state=Reminder.State.PENDING, kind__in=PLANNED_KINDS)
        .exclude(kind__in=keep_kinds)
        .values_list("pk", "dedupe_key")
        if key not in wanted
    ]
    for start in range(0, len(unwanted), CHUNK):
        result.cancelled += Reminder.objects.filter(
            pk__in=unwanted[start : start + CHUNK], state=Reminder.State.PENDING
        ).update(state=Reminder.State.CANCELLED, updated_at=now)
    return result


# --- small helpers -----------------------------------------------------------


def _overdue_for_review(runbook: Runbook, today: date) -> bool:
    try:
        return runbook.is_review_overdue(today)
    except (OverflowError, ValueError):  # a review date beyond what a date can hold
        return False


def _zone(name: str, fallback: zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return fallback


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
