#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oncall.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load settings now to report a bad value
    except ImproperlyConfigured as e:
        # A wrong environment value: one line naming it, not a traceback wall.
        sys.exit(f"oncall: configuration error: {e}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
