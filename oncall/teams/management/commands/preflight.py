"""Check that the database (and Redis, when configured) answer before start-up."""

import shutil
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection

from oncall.teams.health import check_broker


class Command(BaseCommand):
    help = "Fail with a clear message when the database or the broker is unreachable."

    def handle(self, *args, **options):
        db = settings.DATABASES["default"]
        try:
            connection.ensure_connection()
        except OperationalError as e:
            where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"
            raise CommandError(
                f"cannot reach the database at {where} (DATABASE_URL): {str(e).strip()}\n"
                "Start PostgreSQL, fix DATABASE_URL, or unset it to use SQLite under var/."
            ) from None
        ok, detail = check_broker()
        if not ok:
            raise CommandError(
                f"cannot reach the broker (REDIS_URL): {detail}\n"
                "Start Redis, fix REDIS_URL, or unset it to use the filesystem broker under var/."
            )
        self.stdout.write("database and broker reachable")
        self.check_translations()

    def check_translations(self) -> None:
        """Warn, never fail: English pages need no catalogue, and the compiled one is committed."""
        for folder in settings.LOCALE_PATHS:
            for po in Path(folder).glob("*/LC_MESSAGES/django.po"):
                mo = po.with_suffix(".mo")
                if not mo.exists():
                    self.stderr.write(
                        f"warning: {mo} is missing, so {po.parent.parent.name} pages show English. "
                        f"Compile it with GNU gettext: msgfmt -o {mo} {po}"
                    )
        if shutil.which("msgfmt") is None:
            self.stdout.write(
                "note: GNU gettext is not installed; the committed translations work without it. "
                "To change them, install it (apt-get install gettext, brew install gettext)."
            )
