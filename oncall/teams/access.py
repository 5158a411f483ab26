"""Who may see what: the questions every app asks about teams and roles."""

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


def is_member(user: AbstractBaseUser, team: Team) -> bool:
    return user.is_staff or Membership.objects.filter(user=user, team=team).exists()


def is_lead(user: AbstractBaseUser, team: Team) -> bool:
    return (
        user.is_staff
        or Membership.objects.filter(user=user, team=team, role=Membership.Role.LEAD).exists()
    )
