"""Shared fixtures: a team with a lead, a primary and a trainee, and an outsider."""

import os
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import translation

from oncall.teams.models import Membership, Team
from tests.stack import need

PASSWORD = "correct-horse-battery"
ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpora" / "kube-prometheus-runbooks"


def pytest_configure(config):
    # Playwright's sync API runs an event loop in the test thread; the ORM
    # calls that tests make around it are still plain synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _default_language_per_test():
    # The locale middleware activates a reader's language for the thread and
    # nothing resets it after the response: a test that requests as a Japanese
    # reader would leave the next test reading Japanese.
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _cache_per_test(settings):
    # The same cache backend (Redis when REDIS_URL is set), with keys of this
    # test's own: rate-limit counters and cached answers never leak into the
    # next test, whose users may get the same primary keys. Each alias keeps
    # its own prefix after the test's, so aliases that share a store still do.
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": prefix + config.get("KEY_PREFIX", "")}
        for alias, config in settings.CACHES.items()
    }


@pytest.fixture(scope="session", autouse=True)
def _static_files():
    # Pages link hashed static names from the manifest, as in production.
    call_command("collectstatic", interactive=False, verbosity=0)


def make_user(django_user_model, username: str, *, staff: bool = False, tz: str = "UTC"):
    user = django_user_model.objects.create_user(
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
        is_staff=staff,
        is_superuser=staff,
    )
    user.profile.time_zone = tz
    user.profile.save(update_fields=["time_zone"])
    return user


@pytest.fixture
def team(db):
    return Team.objects.create(slug="payments", name="Payments", time_zone="Asia/Tokyo")


@pytest.fixture
def other_team(db):
    return Team.objects.create(slug="platform", name="Platform", time_zone="Europe/London")


@pytest.fixture
def lead(django_user_model, team):
    user = make_user(django_user_model, "lead", tz="Asia/Tokyo")
    Membership.objects.create(user=user, team=team, role=Membership.Role.LEAD)
    return user


@pytest.fixture
def primary(django_user_model, team):
    user = make_user(django_user_model, "primary", tz="Asia/Tokyo")
    Membership.objects.create(user=user, team=team, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def trainee(django_user_model, team):
    user = make_user(django_user_model, "trainee", tz="Asia/Tokyo")
    Membership.objects.create(user=user, team=team, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def outsider(django_user_model, other_team):
    """A member of another team."""
    user = make_user(django_user_model, "outsider", tz="Europe/London")
    Membership.objects.create(user=user, team=other_team, role=Membership.Role.LEAD)
    return user


@pytest.fixture
def staff(django_user_model):
    return make_user(django_user_model, "staff", staff=True)


@pytest.fixture
def client_for(client):
    """Sign a test client in as a user: ``client_for(trainee).get(...)``."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def corpus_dir():
    need(CORPUS.is_dir(), f"the kube-prometheus corpus is not at {CORPUS} (outside this workplace)")
    return CORPUS


@pytest.fixture(scope="module")
def demo_for_module(django_db_setup, django_db_blocker):
    """The demo data and sample runbooks, loaded once for a whole test module.

    They are written inside a transaction that stays open for the module and
    is rolled back after its last test, so other modules start from an empty
    database; each test runs in its own nested transaction (a savepoint), as
    Django's TestCase does with setUpTestData, so what one test changes the
    next does not see. Loading the demo takes seconds; a module of forty
    tests that each loaded it spent minutes doing so.
    """
    from django.conf import settings
    from django.db import transaction

    with django_db_blocker.unblock():
        module = transaction.atomic()
        module.__enter__()
        try:
            call_command("seed_demo", verbosity=0)
            call_command("sync_runbooks", str(settings.RUNBOOKS_DIR), verbosity=0)
            yield
        finally:
            transaction.set_rollback(True)
            module.__exit__(None, None, None)
