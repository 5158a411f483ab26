"""Check that the database (and Redis, when configured) answer before start-up."""

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
