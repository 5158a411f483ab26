"""The home of a primary or mentor: the people they teach, their shifts together, open questions.

Built in a fixed number of queries, whatever the number of people.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q

from oncall.readiness.models import Onboarding
from oncall.shifts.models import ShadowShift
from oncall.teams.access import teams_of

# Shifts within this window make someone "a person I teach" even without a
# mentor link: the last few weeks of shadowing and everything scheduled.
RECENT = timedelta(days=60)
QUESTIONS_SHOWN = 5


@dataclass
class Person:
    onboarding: Onboarding
    mentor: bool  # named as mentor on the onboarding (else: paired as primary)
    next_shift: ShadowShift | None = None
    questions: list[ShadowShift] = field(default_factory=list)


def context_for(user, *, now: datetime) -> dict:
    """What the teaching home shows ``user``.

    1. My shifts as primary, recent and upcoming, in teams I am a member of
       (one query): a primary removed from a team no longer sees its shifts.
    2. Onboardings still going on where I am the mentor (in those teams too),
       or whose engineer I am paired with in one of those shifts in the same
       team (one query).
    3. Per person: our next shift together, and their debriefs of our shifts
       that left open questions, newest first (from the shifts in step 1).
    """
    my_teams = teams_of(user)
    shifts = list(
        ShadowShift.objects.filter(primary=user, team__in=my_teams, ends_at__gte=now - RECENT)
        .exclude(state=ShadowShift.State.CANCELLED)
        .select_related("team", "trainee", "primary")
        .order_by("starts_at")
    )
    pairs = {(s.team_id, s.trainee_id) for s in shifts}
    paired = Q(pk__in=[])
    for team_id, trainee_id in pairs:
        paired |= Q(team_id=team_id, engineer_id=trainee_id)
    onboardings = (
        Onboarding.objects.filter(Q(mentor=user, team__in=my_teams) | paired)
        .exclude(state=Onboarding.State.CLEARED)
        .exclude(engineer=user)
        .select_related("engineer", "team")
        .order_by("engineer__first_name", "engineer__username")
    )
    people = []
    for onboarding in onboardings:
        person = Person(onboarding=onboarding, mentor=onboarding.mentor_id == user.pk)
        together = [
            s
            for s in shifts
            if (s.team_id, s.trainee_id) == (onboarding.team_id, onboarding.engineer_id)
        ]
        person.next_shift = next(
            (s for s in together if s.state == ShadowShift.State.SCHEDULED and s.ends_at > now),
            None,
        )
        person.questions = [s for s in reversed(together) if s.awaits_answer][:QUESTIONS_SHOWN]
        people.append(person)
    upcoming = [s for s in shifts if s.state == ShadowShift.State.SCHEDULED and s.ends_at > now]
    to_confirm = [
        s for s in shifts if s.state == ShadowShift.State.SCHEDULED and s.starts_at <= now
    ]
    return {
        "people": people,
        "shifts": upcoming,
        "to_confirm": to_confirm,
        "questions": [s for p in people for s in p.questions],
        "now": now,
    }
