"""Configuration comes from the environment; a wrong value stops start-up with one line."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SERVICE_VARIABLES = (
    "PORT",
    "SITE_URL",
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "EMAIL_HOST",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("DATABASE_URL", "mysql//nowhere", "DATABASE_URL='mysql//nowhere' is not a valid URL"),
        ("DATABASE_URL", "postgres://u@h:notaport/db", "DATABASE_URL is not a valid URL"),
        (
            "REDIS_URL",
            "http://127.0.0.1:6379",
            "REDIS_URL='http://127.0.0.1:6379' is not a valid URL",
        ),
        ("SITE_URL", "oncall.example.com", "SITE_URL='oncall.example.com' is not a valid URL"),
        ("TIME_ZONE", "Mars/Olympus", "TIME_ZONE='Mars/Olympus' is not an IANA time zone"),
        ("EMAIL_PORT", "twenty-five", "EMAIL_PORT='twenty-five' is not a whole number"),
        ("CSRF_TRUSTED_ORIGINS", "oncall.example.com", "CSRF_TRUSTED_ORIGINS holds"),
        ("PORT", "eighty", "PORT='eighty' is not a whole number"),
        ("PORT", "70000", "PORT=70000 is not a TCP port"),
    ],
)
def test_it_names_the_wrong_variable_in_one_line(name, value, expected):
    env = {name: value}
    if name == "EMAIL_PORT":
        env["EMAIL_HOST"] = "smtp.example.com"
    result = manage("check", **env)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_it_requires_a_secret_key_when_debug_is_off():
    result = manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_deploy_check_passes_with_production_settings():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="a-long-random-production-secret-" + "x" * 40,
        ALLOWED_HOSTS="oncall.example.com",
        SITE_URL="https://oncall.example.com",
        EMAIL_HOST="smtp.example.com",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_deploy_check_fails_when_https_is_switched_off():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="a-long-random-production-secret-" + "x" * 40,
        SECURE_SSL_REDIRECT="false",
        EMAIL_HOST="smtp.example.com",
    )
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout


def test_production_settings_switch_on_https_and_csp():
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS, getattr(s, 'SECURE_PROXY_SSL_HEADER', None),"
        " 'nonce' in str(s.SECURE_CSP['script-src']).lower())"
    )
    result = manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        code,
        DEBUG="false",
        SECRET_KEY="k" * 60,
        BEHIND_TLS_PROXY="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "True",
        "True",
        "31536000",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "True",
    ]


def test_preflight_says_how_to_fix_an_unreachable_database():
    result = manage("preflight", DATABASE_URL="postgres://postgres@127.0.0.1:1/oncall")
    assert result.returncode == 1
    assert "cannot reach the database at 127.0.0.1:1/oncall (DATABASE_URL)" in result.stderr
    assert "unset it to use SQLite" in result.stderr


def test_preflight_passes_on_the_embedded_default(tmp_path):
    result = manage("preflight", ONCALL_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "database and broker reachable" in result.stdout


# Reminder emails build links with plan.absolute_url; calendar feeds with SITE_URL too.
LINKS = """
from django.conf import settings
from oncall.reminders.plan import absolute_url
assert absolute_url("/") == settings.SITE_URL + "/"
print(absolute_url("/shifts/1/"))
"""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PORT": "8720"}, "http://127.0.0.1:8720/shifts/1/"),
        ({}, "http://127.0.0.1:8000/shifts/1/"),
        (
            {"PORT": "8720", "SITE_URL": "https://oncall.example.com/"},
            "https://oncall.example.com/shifts/1/",
        ),
    ],
)
def test_it_links_to_where_the_app_runs(env, expected):
    """`PORT=8720 make run` puts 8720 in reminder and feed links; SITE_URL wins when set."""
    result = manage("shell", "-c", LINKS, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
