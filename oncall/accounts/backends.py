"""Password sign-in: Django's ModelBackend, with the user read along with the session.

After sign-in, each request reads its session, asks the backend that signed
it in for the user (``get_user``), and its header then asks which teams that
user leads. Django would make that three round trips, the second built by
the ORM at several times the database's own cost. Here the session store
(oncall/accounts/sessions.py) reads the session, its user and the teams they
lead in one plain SQL statement, and ``user_by_id`` hands that user to the
backend while Django checks it (``users_read_with``, used by the
authentication middleware). Django's checks are unchanged: the session must
name this backend and carry the user's current password hash, and the user
must be active. Without such a session (a test's, a signed-out one) the user
and teams are read by id, also in one statement. The OpenID Connect backend
(oncall/accounts/oidc.py) uses ``user_by_id`` too. Sessions signed in before
this backend existed named Django's; migration accounts 0004 moved them here.
"""

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connections, router

from oncall.teams.access import LedTeam, remember_lead_memberships
from oncall.teams.models import Membership, Team
from oncall.teams.rows import in_columns, loaded, prepared_cursor, select_list

# The session store whose user Django is checking, while it checks it.
_session: ContextVar = ContextVar("session_read_with_its_user", default=None)


@contextmanager
def users_read_with(session) -> Iterator[None]:
    """While Django reads the user of ``session``, the user read with it answers."""
    token = _session.set(session)
    try:
        yield
    finally:
        _session.reset(token)


def user_by_id(user_id):
    """The user with this primary key (None if there is none), knowing the teams they lead."""
    take_user = getattr(_session.get(), "take_user", None)
    user = take_user() if take_user else None
    if user is not None and user.pk == user_id:
        return user
    model = get_user_model()
    alias = router.db_for_read(model)
    pk = model._meta.pk.get_db_prep_value(user_id, connections[alias], prepared=False)
    with prepared_cursor(alias) as cursor:
        cursor.execute(_by_id(alias), [Membership.Role.LEAD.value, pk])
        rows = cursor.fetchall()
    return user_from(rows, alias)


@functools.cache
def _by_id(alias: str) -> str:
    model = get_user_model()
    q = connections[alias].ops.quote_name
    # Names from the models' metadata, quoted; values are parameters.
    return (
        f"SELECT {user_columns(alias)} FROM {q(model._meta.db_table)} u{led_teams(alias)}"  # noqa: S608
        f" WHERE u.{q(model._meta.pk.column)} = %s ORDER BY t.{q('name')}"
    )


@functools.cache
def user_columns(alias: str) -> str:
    """The columns of the user (table ``u``) and of a team they lead (``t``, see ``led_teams``)."""
    q = connections[alias].ops.quote_name
    return f"{select_list(get_user_model(), 'u', alias)}, t.{q('id')}, t.{q('slug')}, t.{q('name')}"


@functools.cache
def led_teams(alias: str) -> str:
    """Joins on the user ``u`` giving one row per team they lead, or one with no team.

    Its one parameter is the lead role.
    """
    q = connections[alias].ops.quote_name
    user_pk = f"u.{q(get_user_model()._meta.pk.column)}"
    return (
        f" LEFT JOIN {q(Membership._meta.db_table)} m"
        f" ON m.{q('user_id')} = {user_pk} AND m.{q('role')} = %s"
        f" LEFT JOIN {q(Team._meta.db_table)} t ON t.{q('id')} = m.{q('team_id')}"
    )


def user_from(rows: list[tuple], alias: str):
    """The user read by rows that end with ``user_columns`` (None if those are NULL)."""
    model = get_user_model()
    width = len(model._meta.concrete_fields)
    if not rows or rows[0][-width - 3] is None:
        return None
    values = [row[-width - 3 :] for row in rows]
    user = loaded(model, in_columns(model, values[0][:width]), alias)
    remember_lead_memberships(user, [LedTeam(*row[width:]) for row in values if row[width]])
    return user


class PasswordBackend(ModelBackend):
    def get_user(self, user_id):
        user = user_by_id(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
