"""Password sign-in: Django's ModelBackend, with the user lookup every request makes in one statement.

After sign-in, each request asks the backend that signed its session in for
the user (``get_user``), and its header then asks which teams that user
leads. Django's backend builds an ORM query for the first, which costs
several times the database's own answer, and the second would be another
round trip. ``user_by_id`` reads both in one plain SQL statement
(oncall/teams/rows.py). The OpenID Connect backend (oncall/accounts/oidc.py)
uses it too. Sessions signed in before this backend existed named Django's;
migration accounts 0004 moved them here.
"""

import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connections, router

from oncall.teams.access import LedTeam, remember_lead_memberships
from oncall.teams.models import Membership, Team
from oncall.teams.rows import in_columns, loaded, prepared_cursor, select_list


def user_by_id(user_id):
    """The user with this primary key (None if there is none), knowing the teams they lead."""
    model = get_user_model()
    alias = router.db_for_read(model)
    connection = connections[alias]
    pk = model._meta.pk.get_db_prep_value(user_id, connection, prepared=False)
    with prepared_cursor(alias) as cursor:
        cursor.execute(_statement(alias), [Membership.Role.LEAD.value, pk])
        rows = cursor.fetchall()
    if not rows:
        return None
    width = len(model._meta.concrete_fields)
    user = loaded(model, in_columns(model, rows[0][:width]), alias)
    remember_lead_memberships(user, [LedTeam(*row[width:]) for row in rows if row[width]])
    return user


@functools.cache
def _statement(alias: str) -> str:
    """The user's row once per team they lead (once with no team if none), by team name."""
    model = get_user_model()
    q = connections[alias].ops.quote_name
    # Names from the models' metadata, quoted; values are parameters.
    return (
        f"SELECT {select_list(model, 'u', alias)}, t.{q('id')}, t.{q('slug')}, t.{q('name')}"  # noqa: S608
        f" FROM {q(model._meta.db_table)} u"
        f" LEFT JOIN {q(Membership._meta.db_table)} m"
        f" ON m.{q('user_id')} = u.{q(model._meta.pk.column)} AND m.{q('role')} = %s"
        f" LEFT JOIN {q(Team._meta.db_table)} t ON t.{q('id')} = m.{q('team_id')}"
        f" WHERE u.{q(model._meta.pk.column)} = %s ORDER BY t.{q('name')}"
    )


class PasswordBackend(ModelBackend):
    def get_user(self, user_id):
        user = user_by_id(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
