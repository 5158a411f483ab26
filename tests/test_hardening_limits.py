"""Rate limits on actions that make the app send or work on someone's behalf.

The counters live in Redis when the default cache is Redis, otherwise in the
test's database (oncall/core/counters.py). Each test here gets a cache of its
own; the last test runs the limit through two separate Redis clients, as two
gunicorn workers would, against a real redis-server on loopback.
"""

import shutil
import subprocess
import uuid
from datetime import timedelta

import pytest
from django.core.cache.backends.redis import RedisCache

from oncall.reminders.models import Reminder
from oncall.teams import ratelimit
from tests.stack import free_port, wait_until


@pytest.fixture(autouse=True)
def own_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"limits-{uuid.uuid4().hex}",
        }
    }


def test_it_refuses_a_fourth_test_in_ten_minutes_with_429_and_says_when(client_for, trainee):
    client = client_for(trainee)
    for _ in range(3):
        assert client.post("/reminders/test/").status_code == 302
    assert Reminder.objects.filter(recipient=trainee).count() == 3

    response = client.post("/reminders/test/")

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 600
    page = response.content.decode()
    assert "You sent 3 tests in the last 10 minutes. Try again in 10 minutes." in page
    assert "Profile and reminders" in page  # the whole page, usable without JS
    assert Reminder.objects.filter(recipient=trainee).count() == 3


def test_it_answers_htmx_with_429_too(client_for, trainee):
    client = client_for(trainee)
    for _ in range(3):
        client.post("/reminders/test/")
    response = client.post("/reminders/test/", headers={"HX-Request": "true"})
    assert response.status_code == 429
    assert "Try again in" in response.content.decode()


def test_it_counts_each_person_apart(client_for, trainee, primary):
    for _ in range(3):
        client_for(trainee).post("/reminders/test/")
    assert client_for(trainee).post("/reminders/test/").status_code == 429
    assert client_for(primary).post("/reminders/test/").status_code == 302


def test_it_limits_new_calendar_links_to_five_an_hour(client_for, trainee):
    client = client_for(trainee)
    for _ in range(5):
        assert client.post("/profile/calendar-token/").status_code == 302
    trainee.profile.refresh_from_db()
    token = trainee.profile.calendar_token

    response = client.post("/profile/calendar-token/")

    assert response.status_code == 429
    assert "You made 5 new calendar links in the last hour." in response.content.decode()
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    )
    trainee.profile.refresh_from_db()
    assert trainee.profile.calendar_token == token


def test_it_opens_a_new_window_once_the_old_one_is_over(settings, db):
    limit = ratelimit.Limit("short", count=1, period=timedelta(seconds=1))
    assert ratelimit.hit(limit, "k").allowed
    refused = ratelimit.hit(limit, "k")
    assert not refused.allowed and refused.retry_after == 1
    assert "Try again in 1 second." in refused.message()
    assert wait_until(lambda: ratelimit.hit(limit, "k").allowed, timeout=5)


def test_it_allows_the_action_when_the_cache_is_unreachable(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    limit = ratelimit.Limit("down", count=1, period=timedelta(minutes=1))
    assert all(ratelimit.hit(limit, "k").allowed for _ in range(3))


def test_it_shares_the_count_between_workers_through_redis(settings):
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    redis = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
        }
        # A second client with its own connections stands for another worker.
        other_worker = RedisCache(url, {})
        assert wait_until(lambda: _answers(other_worker), timeout=10)
        limit = ratelimit.Limit("shared", count=3, period=timedelta(minutes=10))
        assert ratelimit.hit(limit, 7).allowed
        other_worker.incr("ratelimit:shared:7:count")
        other_worker.incr("ratelimit:shared:7:count")
        refused = ratelimit.hit(limit, 7)
        assert not refused.allowed and 590 <= refused.retry_after <= 600
        ratelimit.reset(limit, 7)
        assert ratelimit.hit(limit, 7).allowed
    finally:
        redis.kill()
        redis.wait(timeout=10)


def _answers(cache) -> bool:
    try:
        cache.set("ping", 1)
    except Exception:  # noqa: BLE001 - not up yet
        return False
    return True
