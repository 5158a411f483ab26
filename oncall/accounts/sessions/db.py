from django.contrib.sessions.backends import db

from oncall.accounts.sessions import PlainLookup


class SessionStore(PlainLookup, db.SessionStore):
    pass
