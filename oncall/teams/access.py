"""Who may see what: the questions every app asks about teams and roles.

Roles on a team's records last as long as the membership. A person removed
from a team no longer opens its shifts (past or upcoming), its calendar, or
the onboardings they mentor there; being a shift's primary or an onboarding's
mentor gives no access of its own. What is about them stays theirs: their own
onboarding and their own shifts as trainee, with the debriefs they wrote.
Staff see everything.
"""

from typing import NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from oncall.teams.models import Membership, Team


def teams_of(user: AbstractBaseUser) -> QuerySet[Team]:
    """Teams the user belongs to; staff see every team."""
    if user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user).distinct()


def teams_led_by(user: AbstractBaseUser) -> QuerySet[Team]:
    """Teams the user leads; staff lead every team."""
    if user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(
        memberships__user=user, memberships__role=Membership.Role.LEAD
    ).distinct()


class LedTeam(NamedTuple):
    id: int
    slug: str
    name: str


def lead_memberships(user: AbstractBaseUser) -> list[LedTeam]:
    """Teams the user is a lead of by membership (staff aside), by name.

    Read once per user object, which a request loads afresh: the header's
    link and the runbook page's cards ask the same question in one request,
    and a membership change shows on the next one. A signed-in request's user
    comes with the answer already (accounts.backends reads both in one
    statement).
    """
    cached = getattr(user, "_lead_memberships", None)
    if cached is None:
        cached = [
            LedTeam(*row)
            for row in Team.objects.filter(
                memberships__user=user, memberships__role=Membership.Role.LEAD
            )
            .order_by("name")
            .values_list("id", "slug", "name")
        ]
        remember_lead_memberships(user, cached)
    return cached


def remember_lead_memberships(user: AbstractBaseUser, teams: list[LedTeam]) -> None:
    """Give a freshly loaded user the teams they lead, read with it."""
    user._lead_memberships = teams


def is_member(user: AbstractBaseUser, team: Team) -> bool:
    return user.is_staff or Membership.objects.filter(user=user, team=team).exists()


def is_lead(user: AbstractBaseUser, team: Team) -> bool:
    return (
        user.is_staff
        or Membership.objects.filter(user=user, team=team, role=Membership.Role.LEAD).exists()
    )
