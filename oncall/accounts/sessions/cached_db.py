from django.contrib.sessions.backends import cached_db

from oncall.accounts.sessions import PlainLookup


class SessionStore(PlainLookup, cached_db.SessionStore):
    pass
