"""Sessions already stored end when the new rules say (oncall/accounts/sessions.py).

Before, every session lasted 30 days on the server. Now a session nobody is
signed in to (a single sign-on started and never finished) lasts 10 minutes,
and one signed in without "keep me signed in" 12 hours from its last use
(``session_refreshed_at``, or now when it has none). Those stored with a
later end are given that end; sessions past it are then deleted by the daily
clean-up. Kept sessions are left as they are. Going back changes nothing:
the earlier ends are still ends the old code honours.
"""

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import migrations
from django.utils import timezone

BATCH = 1000
KEEP = "keep_signed_in"
REFRESHED = "session_refreshed_at"


def _end(data: dict, now: datetime) -> datetime | None:
    """The end the new rules give a session with ``data`` (None: as it is)."""
    if SESSION_KEY not in data:
        return now + timedelta(seconds=settings.SESSION_SIGNED_OUT_AGE)
    if data.get(KEEP) is False:
        refreshed = data.get(REFRESHED)
        last = refreshed if isinstance(refreshed, int | float) else time.time()
        return datetime.fromtimestamp(last, UTC) + timedelta(seconds=settings.SESSION_NOT_KEPT_AGE)
    return None


def end_sessions_on_time(apps, schema_editor) -> None:
    Session = apps.get_model("accounts", "Session")
    store = SessionStore()
    now = timezone.now()
    alias = schema_editor.connection.alias
    changed = []
    for session in Session.objects.using(alias).filter(expire_date__gt=now).iterator(BATCH):
        end = _end(store.decode(session.session_data), now)  # {} when it cannot be read
        if end is not None and end < session.expire_date:
            session.expire_date = end
            changed.append(session)
        if len(changed) == BATCH:
            Session.objects.using(alias).bulk_update(changed, ["expire_date"])
            changed = []
    Session.objects.using(alias).bulk_update(changed, ["expire_date"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_drop_throttle_cache_table")]

    operations = [
        migrations.RunPython(end_sessions_on_time, migrations.RunPython.noop),
    ]
