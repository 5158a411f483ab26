"""/profile/ p50, in English and Japanese, beside the same page with Django's stock select.

Target: p50 <= 50 ms. The baseline renders the ~600 time zones through
Django's own ``Select`` (a template per option), as the page did before, in
the same process and on the same database: the ratio is what to compare.

Runs standalone (``python bench/bench_profile.py``) against a throw-away
database (see bench/_database.py).
"""

import os
import statistics
import sys
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._database import throwaway_database  # noqa: E402

RUNS = 40
TARGET_P50_MS = 50


def main() -> None:
    with throwaway_database("profile"):
        run()


def p50(client, language: str) -> float:
    timings = []
    for _ in range(RUNS):
        started = perf_counter()
        response = client.get("/profile/", HTTP_ACCEPT_LANGUAGE=language)
        timings.append((perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(timings)


def run() -> None:
    import django

    django.setup()
    from django import forms
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from oncall.teams.forms import ProfileForm

    setup_test_environment()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    user = get_user_model().objects.create_user("trainee", password="bench-password-1")
    client = Client()
    client.force_login(user)
    client.get("/profile/")  # warm up: templates compiled, catalogues loaded

    results = {language: p50(client, language) for language in ("en", "ja")}
    field = ProfileForm.base_fields["time_zone"]
    fast = field.widget
    field.widget = forms.Select(choices=field.choices)
    try:
        client.get("/profile/")
        baseline = p50(client, "en")
    finally:
        field.widget = fast

    print(
        f"/profile/, {RUNS} requests each ({os.cpu_count()} cores, load {os.getloadavg()[0]:.2f})"
    )
    for language, value in results.items():
        print(f"  p50 {language}                {value:7.1f} ms   (target <= {TARGET_P50_MS} ms)")
    print(f"  p50 stock Select      {baseline:7.1f} ms   (baseline, same run)")
    print(f"  en / baseline         {results['en'] / baseline:7.2f}")


if __name__ == "__main__":
    main()
