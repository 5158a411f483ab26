"""Sessions signed in with a password name the backend that now answers for them.

Password sign-in moved from Django's ModelBackend to accounts.backends.
PasswordBackend (the same checks, a cheaper lookup). A session records the
backend that signed it in, and Django signs out a session whose backend is
no longer configured: this rewrites those sessions, so an upgrade signs
nobody out. A session that cannot be read is left as it is (it was already
unusable). Going back rewrites them the other way.
"""

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import caches
from django.db import migrations
from django.utils import timezone

OLD = "django.contrib.auth.backends.ModelBackend"
NEW = "oncall.accounts.backends.PasswordBackend"


def _move(apps, schema_editor, before: str, after: str) -> None:
    Session = apps.get_model("sessions", "Session")
    store = SessionStore()
    cache = caches[settings.SESSION_CACHE_ALIAS]
    live = Session.objects.using(schema_editor.connection.alias).filter(
        expire_date__gt=timezone.now()
    )
    for session in live.iterator():
        data = store.decode(session.session_data)  # {} when it cannot be read
        if data.get(BACKEND_SESSION_KEY) != before:
            continue
        data[BACKEND_SESSION_KEY] = after
        session.session_data = store.encode(data)
        session.save(update_fields=["session_data"])
        # A copy in the cache (cached_db sessions) would still name the old one.
        cache.delete(KEY_PREFIX + session.session_key)


def forwards(apps, schema_editor) -> None:
    _move(apps, schema_editor, OLD, NEW)


def backwards(apps, schema_editor) -> None:
    _move(apps, schema_editor, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_translated_labels"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
