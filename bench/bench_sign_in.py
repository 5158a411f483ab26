"""Password sign-in: what a wrong password costs, against a throttled attempt.

A throttled attempt is refused before any password is hashed, so a flood of
guesses against a blocked username costs the server almost nothing. Printed:
p50 of a wrong-password POST (the baseline, run in the same process), p50 of
a throttled POST, and their ratio. Target: the throttled attempt costs at
most a fifth of the checked one.

Runs standalone (``python bench/bench_sign_in.py``) on a throw-away database
(SQLite, or a fresh PostgreSQL database when DATABASE_URL points at one).
"""

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._database import throwaway_database  # noqa: E402

RUNS = 40
TARGET_RATIO = 0.2


def main() -> None:
    with throwaway_database("sign_in"):
        run()


def p50(client, data: dict, expected: int, before=None) -> float:
    timings = []
    for _ in range(RUNS):
        if before:
            before()
        started = time.perf_counter()
        response = client.post("/accounts/login/", data)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == expected, response.status_code
    return statistics.median(timings)


def run() -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from oncall.accounts import throttle

    setup_test_environment()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    User.objects.create_user("someone", password="the-right-password")
    client = Client()
    wrong = {"username": "someone", "password": "a-wrong-password"}

    def fresh() -> None:
        throttle.forget(username="someone", address="127.0.0.1")

    checked = p50(client, wrong, 200, before=fresh)
    for _ in range(throttle.USERNAME_LIMIT):
        client.post("/accounts/login/", wrong)
    throttled = p50(client, wrong, 429)
    fresh()
    ratio = throttled / checked
    print(f"wrong password, checked:  p50 {checked:7.2f} ms  (baseline)")
    print(f"wrong password, throttled: p50 {throttled:7.2f} ms  ratio {ratio:.3f}")
    print(f"target ratio <= {TARGET_RATIO}: {'ok' if ratio <= TARGET_RATIO else 'MISSED'}")
    if ratio > TARGET_RATIO:
        sys.exit(1)


if __name__ == "__main__":
    main()
