"""The session engine (``SESSION_ENGINE``): Django's database sessions, read with their user.

Every signed-in request reads its session and then its user. Sessions are
kept in ``accounts.Session``, Django's session table with the signed-in
user's id in a column of its own, so one plain SQL statement reads the
session, its user and the teams that user leads (the user's part is
oncall/accounts/backends.py's). Django still decides who is signed in, from
the session's data, exactly as before; the user read along only saves the
round trip when Django asks for that same user. docs/deploy.md weighs this
against cached and signed-cookie sessions; migration accounts 0005 moved
the sessions of Django's table here.
"""

import functools

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

from oncall.accounts import backends
from oncall.accounts.middleware import KEEP
from oncall.teams.models import Membership
from oncall.teams.rows import in_columns, loaded, prepared_cursor, select_list

SWEEP = 100


def clear_ended(*, limit: int | None = None) -> int:
    """Delete sessions past their end (at most ``limit``); how many were deleted."""
    model = SessionStore.get_model_class()
    now = timezone.now()
    ended = model.objects.filter(expire_date__lt=now)
    if limit is not None:
        ended = model.objects.filter(
            session_key__in=list(ended.values_list("session_key", flat=True)[:limit]),
            # Checked again as each is deleted: one renewed meanwhile stays.
            expire_date__lt=now,
        )
    deleted, _by_model = ended.delete()
    return deleted


class SessionStore(db.SessionStore):
    """Django's database sessions, read with their user, each ending when it should.

    How long a session lasts on the server, from its last save (Django asks
    ``get_session_cookie_age`` unless a session was given its own expiry):

    - nobody signed in (a single sign-on under way, a signed-out page):
      ``SESSION_SIGNED_OUT_AGE``, 10 minutes; an anonymous visitor who only
      starts sign-ins cannot keep rows for longer;
    - signed in without "keep me signed in": ``SESSION_NOT_KEPT_AGE``, 12
      hours (the cookie itself ends with the browser, which the server cannot
      see; rolling_session pushes the end forward while the session is used);
    - kept: ``SESSION_COOKIE_AGE``, 30 days.
    """

    _user = None  # the user read with the session, until taken

    def create(self) -> None:
        """A new session; first, up to SWEEP sessions past their end are deleted.

        Beat deletes ended sessions once a day; anonymous clients could make
        many more than that in a day (each single sign-on started makes one).
        Deleting a few with each new one keeps the table at about the live
        sessions, at the cost of one indexed statement per new session.
        """
        clear_ended(limit=SWEEP)
        super().create()

    def get_session_cookie_age(self) -> int:
        if SESSION_KEY not in self:
            return settings.SESSION_SIGNED_OUT_AGE
        if self.get(KEEP) is False:
            return settings.SESSION_NOT_KEPT_AGE
        return settings.SESSION_COOKIE_AGE

    def take_user(self):
        """The user read with this session (None if it names none), once."""
        user, self._user = self._user, None
        return user

    @classmethod
    def get_model_class(cls):
        from oncall.accounts.models import Session

        return Session

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        session.user_id = None if user_id is None else get_user_model()._meta.pk.to_python(user_id)
        return session

    def _get_session_from_db(self):
        model = self.get_model_class()
        alias = router.db_for_read(model)
        with prepared_cursor(alias) as cursor:
            cursor.execute(_statement(alias), [Membership.Role.LEAD.value, self.session_key])
            rows = cursor.fetchall()
        width = len(model._meta.concrete_fields)
        session = loaded(model, in_columns(model, rows[0][:width]), alias) if rows else None
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None
            return None
        self._user = backends.user_from(rows, alias)
        return session


@functools.cache
def _statement(alias: str) -> str:
    model = SessionStore.get_model_class()
    users = get_user_model()
    q = connections[alias].ops.quote_name
    # Names from the models' metadata, quoted; values are parameters.
    return (
        f"SELECT {select_list(model, 's', alias)}, {backends.user_columns(alias)}"  # noqa: S608
        f" FROM {q(model._meta.db_table)} s"
        f" LEFT JOIN {q(users._meta.db_table)} u"
        f" ON u.{q(users._meta.pk.column)} = s.{q('user_id')}{backends.led_teams(alias)}"
        f" WHERE s.{q('session_key')} = %s ORDER BY t.{q('name')}"
    )
