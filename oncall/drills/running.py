"""Drill workflows: who may run one, scheduling, the trainee's and the game master's actions.

Each action is a function here with keyword-only arguments; each refuses with
``DrillError`` (a reason for a person to read) what the drill's state or the
person's role does not allow, and each is idempotent where a double click or a
retried POST can repeat it: acknowledging, ending, finishing and grading a
second time change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oncall.core.text import TextRefused, check_moment, check_text
from oncall.drills.models import Drill, Response, ResponseEvent, Scenario, ScenarioStep
from oncall.drills.replay import play_step
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team

MAX_NOTE = 5000


class DrillError(Exception):
    """An action the drill's state or the person's role does not allow; the message says why."""


# -- who --


def may_run_drills(user: AbstractBaseUser, team: Team) -> bool:
    """A game master: a lead of the team, or a member who has been a primary on its shifts."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    role = Membership.objects.filter(user=user, team=team).values_list("role", flat=True).first()
    if role is None:
        return False
    if role == Membership.Role.LEAD:
        return True
    return (
        ShadowShift.objects.filter(team=team, primary=user)
        .exclude(state=ShadowShift.State.CANCELLED)
        .exists()
    )


def may_grade(user: AbstractBaseUser, drill: Drill) -> bool:
    """The drill's game master or a lead of its team; never its trainee."""
    if user.pk == drill.trainee_id:
        return False
    if user.pk == drill.game_master_id or user.is_staff:
        return True
    return Membership.objects.filter(
        user=user, team_id=drill.team_id, role=Membership.Role.LEAD
    ).exists()


# -- the registry higher apps fill in apps.ready() --

_graded_listeners: list[Callable[[Drill], None]] = []


def on_drill_graded(listener: Callable[[Drill], None]) -> None:
    """Call ``listener(drill)`` inside the transaction that grades a drill (readiness)."""
    if listener not in _graded_listeners:
        _graded_listeners.append(listener)


def drill_graded(drill: Drill) -> None:
    for listener in _graded_listeners:
        listener(drill)


_marked_listeners: list[Callable[[Response], None]] = []


def on_response_marked(listener: Callable[[Response], None]) -> None:
    """Call ``listener(response)`` inside the transaction that marks a live response."""
    if listener not in _marked_listeners:
        _marked_listeners.append(listener)


def response_marked(response: Response) -> None:
    for listener in _marked_listeners:
        listener(response)


# -- scheduling --


def schedule_drill(
    *,
    scenario: Scenario,
    trainee: AbstractBaseUser,
    game_master: AbstractBaseUser,
    at: datetime | None = None,
    now: datetime | None = None,
) -> Drill:
    """A drill of ``scenario`` for ``trainee``; it starts at ``at`` (now when None).

    A drill due now starts at once (its first steps follow on the next
    replay tick, within a second); a later one waits for the replay tick.
    """
    now = now or timezone.now()
    team = scenario.team
    if trainee.pk == game_master.pk:
        raise DrillError(_("A trainee cannot run their own drill: choose another game master."))
    if not Membership.objects.filter(user=trainee, team=team).exists():
        raise DrillError(
            _("%(user)s is not a member of %(team)s.") % {"user": trainee, "team": team.name}
        )
    if not may_run_drills(game_master, team):
        raise DrillError(
            _("%(user)s cannot run drills for %(team)s: a lead or a primary of the team can.")
            % {"user": game_master, "team": team.name}
        )
    if not scenario.has_alert():
        raise DrillError(_("This scenario has no alert, so a drill of it cannot start."))
    if at is not None:
        try:
            check_moment(at, name=_("start"))
        except TextRefused as error:
            raise DrillError(str(error)) from None
    when = at if at is not None and at > now else now
    with transaction.atomic():
        drill = Drill.objects.create(
            scenario=scenario,
            team=team,
            trainee=trainee,
            game_master=game_master,
            scheduled_at=when,
        )
        Response.objects.create(responder=trainee, drill=drill)
        if when <= now:
            drill.state = Drill.State.RUNNING
            drill.started_at = now
            drill.save(update_fields=["state", "started_at"])
    return drill


# -- the trainee's actions --


def _response_for_trainee(drill: Drill, user: AbstractBaseUser) -> Response:
    if user.pk != drill.trainee_id:
        raise DrillError(_("Only the trainee responds in this drill."))
    return Response.objects.get(drill=drill)


def _running(drill: Drill) -> None:
    if drill.state == Drill.State.SCHEDULED:
        raise DrillError(_("The drill has not started yet."))
    if drill.is_over:
        raise DrillError(_("The drill has ended."))


def acknowledge(*, drill: Drill, by: AbstractBaseUser, now: datetime | None = None) -> bool:
    """Acknowledge the drill's pages; False when already acknowledged."""
    response = _response_for_trainee(drill, by)
    _running(drill)
    return record_acknowledged(response, by=by, now=now or timezone.now())


# -- a response's log: the same for a drill's pages and a live page --


def record_acknowledged(response: Response, *, by: AbstractBaseUser, now: datetime) -> bool:
    """Set the response's acknowledge time once; False when it was set already."""
    with transaction.atomic():
        if not Response.objects.filter(pk=response.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now
        ):
            return False
        response.acknowledged_at = now
        ResponseEvent.objects.create(
            response=response, kind=ResponseEvent.Kind.ACKNOWLEDGED, at=now, by=by
        )
    return True


def record_note(
    response: Response, *, by: AbstractBaseUser, text: str, hypothesis: bool = False
) -> ResponseEvent:
    """A line in the action log; a hypothesis also becomes the response's current one."""
    text = clean_text(text, field=NOTE)
    with transaction.atomic():
        if hypothesis:
            response.hypothesis = text
            response.save(update_fields=["hypothesis"])
        return ResponseEvent.objects.create(
            response=response,
            kind=ResponseEvent.Kind.HYPOTHESIS if hypothesis else ResponseEvent.Kind.NOTE,
            by=by,
            text=text,
        )


def record_runbook(response: Response, *, by: AbstractBaseUser, runbook: Runbook) -> ResponseEvent:
    """The responder opened ``runbook`` from the console: every opening is a line."""
    return ResponseEvent.objects.create(
        response=response, kind=ResponseEvent.Kind.RUNBOOK_OPENED, by=by, runbook=runbook
    )


def check_end(choice: str, text: str) -> str:
    """The end note, once the choice is one of the two ends (escalating names whom)."""
    if choice not in Response.EndChoice.values:
        raise DrillError(_("Choose how it ended: mitigated, or would escalate."))
    return clean_text(text, field=END_NOTE, required=choice == Response.EndChoice.ESCALATE)


def record_end(
    response: Response, *, by: AbstractBaseUser, choice: str, text: str, now: datetime
) -> bool:
    """End the response once (inside the caller's transaction); False when it had ended."""
    if not Response.objects.filter(pk=response.pk, ended_at__isnull=True).update(
        end_choice=choice, end_text=text, ended_at=now
    ):
        return False
    response.end_choice, response.end_text, response.ended_at = choice, text, now
    ResponseEvent.objects.create(
        response=response, kind=ResponseEvent.Kind.ENDED, at=now, by=by, text=text
    )
    return True


@dataclass(frozen=True)
class Written:
    """A text a person writes in a drill or a response, with what is said when it is
    refused: whole sentences, so that each language can say them its own way."""

    name: str
    empty: str
    too_long: str


NOTE = Written(
    gettext_lazy("The note"),
    gettext_lazy("The note is empty."),
    gettext_lazy("The note is longer than %(max)s characters."),
)
END_NOTE = Written(
    gettext_lazy("The end note"),
    gettext_lazy("The end note is empty."),
    gettext_lazy("The end note is longer than %(max)s characters."),
)
REASON = Written(
    gettext_lazy("The reason"),
    gettext_lazy("The reason is empty."),
    gettext_lazy("The reason is longer than %(max)s characters."),
)
ACCOUNT = Written(
    gettext_lazy("What you did"),
    gettext_lazy("Say what you did on this page."),
    gettext_lazy("What you did is longer than %(max)s characters."),
)
MARK_NOTE = Written(
    gettext_lazy("The note on the mark"),
    gettext_lazy("Say what needs work."),
    gettext_lazy("The note on the mark is longer than %(max)s characters."),
)


def clean_text(text: str, *, field: Written, required: bool = True) -> str:
    text = (text or "").strip()
    if required and not text:
        raise DrillError(str(field.empty))
    if len(text) > MAX_NOTE:
        raise DrillError(str(field.too_long) % {"max": MAX_NOTE})
    try:
        return check_text(text, name=str(field.name))
    except TextRefused as error:
        raise DrillError(str(error)) from None


def add_note(
    *, drill: Drill, by: AbstractBaseUser, text: str, hypothesis: bool = False
) -> ResponseEvent:
    """A line in the drill's action log (see ``record_note``)."""
    response = _response_for_trainee(drill, by)
    _running(drill)
    return record_note(response, by=by, text=text, hypothesis=hypothesis)


def open_runbook(*, drill: Drill, by: AbstractBaseUser, runbook: Runbook) -> bool:
    """Record that the trainee opened a runbook from the console (while the drill runs)."""
    if by.pk != drill.trainee_id or not drill.is_running:
        return False
    record_runbook(Response.objects.get(drill=drill), by=by, runbook=runbook)
    return True


def _close(drill: Drill, now: datetime) -> bool:
    return bool(
        Drill.objects.filter(pk=drill.pk, state=Drill.State.RUNNING).update(
            state=Drill.State.ENDED, ended_at=now
        )
    )


def end_response(
    *, drill: Drill, by: AbstractBaseUser, choice: str, text: str = "", now=None
) -> bool:
    """The trainee's end: mitigated, or would escalate to someone. Ends the drill.

    False when the drill had already ended (the first end stands)."""
    response = _response_for_trainee(drill, by)
    drill.refresh_from_db()
    if drill.is_over:
        return False
    _running(drill)
    text = check_end(choice, text)
    now = now or timezone.now()
    with transaction.atomic():
        if not _close(drill, now):
            return False
        record_end(response, by=by, choice=choice, text=text, now=now)
    return True


# -- the game master's actions --


def _for_game_master(drill: Drill, user: AbstractBaseUser) -> None:
    if not may_grade(user, drill):
        raise DrillError(_("Only the game master or a lead of the team can do this."))


def release_inject(*, drill: Drill, by: AbstractBaseUser, step: ScenarioStep) -> bool:
    """Show an inject now, ahead of its offset; False when it was shown already."""
    _for_game_master(drill, by)
    if step.scenario_id != drill.scenario_id or step.kind != ScenarioStep.Kind.INJECT:
        raise DrillError(_("That is not an inject of this drill."))
    _running(drill)
    return play_step(drill, step, now=timezone.now(), by=by)


def finish(*, drill: Drill, by: AbstractBaseUser, now=None) -> bool:
    """End a running drill (or cancel a scheduled one); False when it was over already."""
    _for_game_master(drill, by)
    now = now or timezone.now()
    with transaction.atomic():
        if Drill.objects.filter(pk=drill.pk, state=Drill.State.SCHEDULED).update(
            state=Drill.State.CANCELLED, ended_at=now
        ):
            return True
        if not _close(drill, now):
            return False
        response = Response.objects.get(drill=drill)
        ResponseEvent.objects.create(
            response=response,
            kind=ResponseEvent.Kind.ENDED,
            at=now,
            by=by,
            text=_("Ended by the game master."),
        )
    return True


def grade(
    *,
    drill: Drill,
    by: AbstractBaseUser,
    result: str,
    reason: str = "",
    root_cause_named: bool = False,
    now=None,
) -> bool:
    """Grade an ended drill pass or not yet (with a reason); False when graded already."""
    _for_game_master(drill, by)
    drill.refresh_from_db()
    if drill.state == Drill.State.GRADED:
        return False
    if drill.state != Drill.State.ENDED:
        raise DrillError(_("A drill is graded after it ends."))
    if result not in Drill.Grade.values:
        raise DrillError(_("Choose pass or not yet."))
    reason = clean_text(reason, field=REASON, required=result == Drill.Grade.NOT_YET)
    now = now or timezone.now()
    with transaction.atomic():
        if not Drill.objects.filter(pk=drill.pk, state=Drill.State.ENDED).update(
            state=Drill.State.GRADED,
            grade=result,
            grade_reason=reason,
            root_cause_named=root_cause_named,
            graded_by=by,
            graded_at=now,
        ):
            return False
        drill.refresh_from_db()
        drill_graded(drill)
    return True
