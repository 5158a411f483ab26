"""Who may see what: the questions every app asks about teams and roles."""

import functools
from typing import NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
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
    statement); any other user object asks here, in one plain SQL statement.
    """
    cached = getattr(user, "_lead_memberships", None)
    if cached is None:
        with connection.cursor() as cursor:
            cursor.execute(_lead_memberships_sql(), [user.pk, Membership.Role.LEAD.value])
            cached = [LedTeam(*row) for row in cursor.fetchall()]
        remember_lead_memberships(user, cached)
    return cached


def remember_lead_memberships(user: AbstractBaseUser, teams: list[LedTeam]) -> None:
    """Give a freshly loaded user the teams they lead, read with it."""
    user._lead_memberships = teams


@functools.cache
def _lead_memberships_sql() -> str:
    q = connection.ops.quote_name
    # Names from the models' metadata, quoted; values are parameters.
    return (
        f"SELECT t.{q('id')}, t.{q('slug')}, t.{q('name')}"  # noqa: S608
        f" FROM {q(Team._meta.db_table)} t JOIN {q(Membership._meta.db_table)} m"
        f" ON m.{q('team_id')} = t.{q('id')}"
        f" WHERE m.{q('user_id')} = %s AND m.{q('role')} = %s ORDER BY t.{q('name')}"
    )


def is_member(user: AbstractBaseUser, team: Team) -> bool:
    return user.is_staff or Membership.objects.filter(user=user, team=team).exists()


def is_lead(user: AbstractBaseUser, team: Team) -> bool:
    return (
        user.is_staff
        or Membership.objects.filter(user=user, team=team, role=Membership.Role.LEAD).exists()
    )
