"""Session engines: Django's own, with the lookup every signed-in request makes in plain SQL.

``SESSION_ENGINE`` names ``oncall.accounts.sessions.db`` (sessions in the
database) or ``oncall.accounts.sessions.cached_db`` (read from the cache,
written through to the database; the choice when Redis is there). Both store
sessions exactly as Django's engines do, in the same table, so switching
between them and Django's keeps everyone signed in. See docs/deploy.md.
"""

from django.utils import timezone

from oncall.teams.rows import fetch_one


class PlainLookup:
    """The session by its key, if it has not expired: one statement, no query building."""

    def _get_session_from_db(self):
        session = fetch_one(self.model, session_key=self.session_key)
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None
            return None
        return session
