"""Sessions move to accounts.Session: Django's session table with the user's id in a column.

One statement then reads a session with its user (oncall/accounts/sessions.py).
Every live session is copied with the user its data names, so an upgrade
signs nobody out; Django's table is emptied, and the copies Django's
cached_db engine kept in the cache are dropped, so no session signed out
after the upgrade can come back by going back. Going back copies the
sessions the other way.
"""

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import migrations, models
from django.utils import timezone

import django.db.models.deletion

BATCH = 1000


def _user_id(apps, data: dict):
    pk = apps.get_model(settings.AUTH_USER_MODEL)._meta.pk
    try:
        return None if data.get(SESSION_KEY) is None else pk.to_python(data[SESSION_KEY])
    except ValidationError:
        return None


def _copy(source, target, make, alias: str) -> list[str]:
    """Copy the live sessions of ``source`` into ``target``, then empty ``source``."""
    copied, batch = [], []
    live = source.objects.using(alias).filter(expire_date__gt=timezone.now())
    for session in live.iterator(chunk_size=BATCH):
        batch.append(make(session))
        copied.append(session.session_key)
        if len(batch) == BATCH:
            target.objects.using(alias).bulk_create(batch, ignore_conflicts=True)
            batch = []
    target.objects.using(alias).bulk_create(batch, ignore_conflicts=True)
    source.objects.using(alias).all().delete()
    return copied


def forwards(apps, schema_editor) -> None:
    store = SessionStore()
    ours = apps.get_model("accounts", "Session")

    def make(session):
        user_id = _user_id(apps, store.decode(session.session_data))  # {} when unreadable
        return ours(
            session_key=session.session_key,
            session_data=session.session_data,
            expire_date=session.expire_date,
            user_id=user_id,
        )

    alias = schema_editor.connection.alias
    copied = _copy(apps.get_model("sessions", "Session"), ours, make, alias)
    cache = caches[settings.SESSION_CACHE_ALIAS]
    for start in range(0, len(copied), BATCH):
        cache.delete_many([KEY_PREFIX + key for key in copied[start : start + BATCH]])


def backwards(apps, schema_editor) -> None:
    django_sessions = apps.get_model("sessions", "Session")

    def make(session):
        return django_sessions(
            session_key=session.session_key,
            session_data=session.session_data,
            expire_date=session.expire_date,
        )

    alias = schema_editor.connection.alias
    _copy(apps.get_model("accounts", "Session"), django_sessions, make, alias)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_sessions_password_backend"),
        ("sessions", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Session",
            fields=[
                (
                    "session_key",
                    models.CharField(
                        max_length=40, primary_key=True, serialize=False, verbose_name="session key"
                    ),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "abstract": False,
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
