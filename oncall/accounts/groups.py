"""Team memberships from the identity provider's groups (``OIDC_TEAM_GROUPS``)."""

import logging
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from oncall.accounts.models import MembershipChange
from oncall.teams.models import Membership, Team

logger = logging.getLogger(__name__)

Mapping = list[tuple[str, str, str]]  # (team slug, role, group)


def groups_for_team(mapping: Mapping, slug: str) -> list[str]:
    return [group for team, _role, group in mapping if team == slug]


def sync_teams(
    *, user: AbstractBaseUser, groups: Iterable[str], mapping: Mapping
) -> list[MembershipChange]:
    """Make the user's memberships of mapped teams match their groups.

    1. For each team the mapping names, the role the groups give: lead when
       the user is in one of the team's lead groups, member when in one of its
       member groups, none otherwise.
    2. Add, change or remove the membership to match, and record each change.
    3. Teams the mapping does not name are left alone; a mapped team missing
       from the database is logged and skipped.
    """
    held = set(groups)
    wanted: dict[str, str | None] = {}
    for slug, role, group in mapping:
        current = wanted.get(slug)
        if group in held and current != Membership.Role.LEAD:
            wanted[slug] = role
        else:
            wanted.setdefault(slug, None)
    teams = {team.slug: team for team in Team.objects.filter(slug__in=wanted)}
    for slug in wanted.keys() - teams.keys():
        logger.warning("OIDC_TEAM_GROUPS names team %r, which does not exist", slug)
    memberships = {
        m.team_id: m for m in Membership.objects.filter(user=user, team__in=teams.values())
    }
    changes = []
    for slug, team in teams.items():
        role = wanted[slug]
        membership = memberships.get(team.pk)
        group_names = ", ".join(sorted(held & set(groups_for_team(mapping, slug))))
        if role is None and membership is not None:
            membership.delete()
            action, role = MembershipChange.Action.REMOVED, membership.role
        elif role is not None and membership is None:
            Membership.objects.create(user=user, team=team, role=role)
            action = MembershipChange.Action.ADDED
        elif role is not None and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
            action = MembershipChange.Action.ROLE_CHANGED
        else:
            continue
        changes.append(
            MembershipChange(
                team=team,
                user=user,
                action=action,
                role=role,
                source=MembershipChange.Source.IDENTITY_PROVIDER,
                groups=group_names,
            )
        )
    MembershipChange.objects.bulk_create(changes)
    return changes
