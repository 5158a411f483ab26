import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from oncall.teams import health
from oncall.teams.models import Heartbeat
from oncall.teams.tasks import heartbeat


@pytest.fixture
def fresh_heartbeat(db):
    heartbeat()  # what beat runs every minute


def test_it_is_healthy_with_a_fresh_heartbeat(client, fresh_heartbeat):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "beat"}
    assert all(check["ok"] for check in body["checks"].values())


def test_it_needs_no_sign_in(client, fresh_heartbeat):
    assert client.get("/healthz").status_code == 200


def test_it_is_503_without_any_heartbeat(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["beat"]
    assert "no heartbeat yet" in response.json()["checks"]["beat"]["detail"]


def test_it_is_503_with_a_stale_heartbeat(client, fresh_heartbeat):
    Heartbeat.objects.update(at=timezone.now() - timedelta(minutes=10))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["beat"]
    assert "stale" in response.json()["checks"]["beat"]["detail"]


def test_it_is_503_when_the_broker_does_not_answer(client, settings, fresh_heartbeat):
    # Port 9 on loopback: nothing listens there, the connection is refused.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    assert "unreachable" in response.json()["checks"]["broker"]["detail"]


def test_heartbeat_task_records_the_time(db):
    before = timezone.now()
    heartbeat()
    assert Heartbeat.objects.get(name="beat").at >= before


def test_it_logs_a_failing_probe_once_and_its_recovery_not_every_poll(
    client, db, caplog, monkeypatch
):
    monkeypatch.setattr(health, "_last_said", None)
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            assert client.get("/healthz").status_code == 503
        heartbeat()
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz").status_code == 200
    records = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert [r for r in records if r[1] == "ERROR"] == []
    assert records == [
        ("oncall.teams.health", "WARNING", "healthz: failing (beat)"),
        ("oncall.teams.health", "INFO", "healthz: healthy again"),
    ]


# -- right after `make run`: beat's first heartbeat is a minute away -----------------------------


def started(monkeypatch, ago: timedelta) -> None:
    """As ``manage.py serve`` tells its processes when it started."""
    moment = timezone.now() - ago
    monkeypatch.setenv(health.STARTED_AT_ENV, str(moment.timestamp()))


def test_it_is_starting_with_200_until_beats_first_heartbeat(client, db, monkeypatch):
    started(monkeypatch, timedelta(seconds=20))
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["failing"], body["starting"]) == ("starting", [], ["beat"])
    assert "first heartbeat since the server started" in body["reason"]
    assert body["checks"]["beat"]["ok"] is False  # the check itself says what it sees


def test_a_heartbeat_from_before_the_start_does_not_count(client, db, monkeypatch):
    Heartbeat.objects.create(name="beat", at=timezone.now() - timedelta(hours=2))
    started(monkeypatch, timedelta(seconds=5))
    assert client.get("/healthz").json()["status"] == "starting"
    heartbeat()
    assert client.get("/healthz").json()["status"] == "ok"


def test_after_the_grace_it_is_a_failure_again(client, db, monkeypatch):
    started(monkeypatch, health.STARTING_GRACE + timedelta(seconds=1))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["beat"]


def test_the_grace_never_hides_a_broken_broker(client, db, settings, monkeypatch):
    started(monkeypatch, timedelta(seconds=5))
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert set(response.json()["failing"]) == {"broker", "beat"}


@pytest.mark.parametrize("value", ["", "soon", "1e400", "nan"])
def test_without_a_start_time_from_serve_there_is_no_grace(client, db, monkeypatch, value):
    monkeypatch.setenv(health.STARTED_AT_ENV, value)
    assert client.get("/healthz").status_code == 503
