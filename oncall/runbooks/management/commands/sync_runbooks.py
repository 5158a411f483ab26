from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from oncall.runbooks.sync import sync_folders

PROGRESS_FROM = 200  # files; smaller folders sync in the blink of an eye


class Command(BaseCommand):
    help = (
        "Import runbooks from one or more folders (default RUNBOOKS_DIR), recursively and "
        "idempotently. Exits with status 1 when any file failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "dirs", nargs="*", help=f"folders to import (default: {settings.RUNBOOKS_DIR})"
        )

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        last_shown = [0]

        def progress(done: int, total: int) -> None:
            if verbosity < 1 or total < PROGRESS_FROM:
                return
            percent = done * 100 // total
            if percent >= last_shown[0] + 10 or done == total:
                last_shown[0] = percent
                self.stderr.write(f"{done}/{total} files ({percent}%)")

        report = sync_folders(options["dirs"] or None, progress=progress)
        for error in report.errors:
            self.stderr.write(self.style.ERROR(error))
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        if verbosity >= 1:
            self.stdout.write(report.summary())
        if not report.ok:
            files = "file" if report.failed == 1 else "files"
            raise CommandError(f"{report.failed} {files} not imported", returncode=1)
