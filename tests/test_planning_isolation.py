"""Planning survives a row the database refuses: it is logged and skipped, the rest is written.

Before, one alert whose annotation held a lone surrogate (stored by SQLite as a
JSON escape, before the receiver refused such text) made every planning round
raise at its one insert, so no reminder of any kind reached anyone until the
row was deleted. PostgreSQL cannot store that alert at all (its JSON refuses
lone surrogates and NUL), but it refuses a reminder whose recipient was deleted
while the round ran, and that failed the same insert the same way.

Each refusal here is real: the text is written with the ORM as it was stored
then, and the deletion is made by the test on the round's own connection just
before the round writes (so the foreign key is refused when the insert
commits). The rounds run without an enclosing transaction, as the plan task does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oncall.alerts.models import AlertOccurrence, AlertSource
from oncall.alerts.sources import create_source
from oncall.reminders.models import Reminder
from oncall.reminders.plan import plan_reminders
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team
from tests.conftest import make_user

Kind = Reminder.Kind
pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class World:
    payments: Team
    platform: Team
    people: dict
    sources: dict[str, AlertSource]
    alerts: dict[str, AlertOccurrence] = field(default_factory=dict)

    def fire(self, team: Team, name: str, summary: str, **fields) -> AlertOccurrence:
        occurrence = AlertOccurrence.objects.create(
            team=team,
            source=self.sources[team.slug],
            fingerprint=name.lower(),
            starts_at=timezone.now() - timedelta(minutes=5),
            status=AlertOccurrence.Status.FIRING,
            alertname=name,
            alert_key=name.lower(),
            annotations={"summary": summary},
            **fields,
        )
        self.alerts[name] = occurrence
        return occurrence


def shift(team, trainee, primary, *, starts_in: timedelta, hours: int = 4) -> ShadowShift:
    starts = timezone.now() + starts_in
    return ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=starts,
        ends_at=starts + timedelta(hours=hours),
        time_zone="UTC",
    )


@pytest.fixture
def world(django_user_model, team, other_team, trainee, primary, outsider) -> World:
    """Payments and platform, each with a shadow shift on now and an alert or two in it."""
    newcomer = make_user(django_user_model, "newcomer", tz="Europe/London")
    Membership.objects.create(user=newcomer, team=other_team)
    shift(team, trainee, primary, starts_in=-timedelta(hours=1))
    shift(other_team, newcomer, outsider, starts_in=-timedelta(hours=1))
    world = World(
        payments=team,
        platform=other_team,
        people={"trainee": trainee, "primary": primary, "newcomer": newcomer, "outsider": outsider},
        sources={t.slug: create_source(team=t, name="prod")[0] for t in (team, other_team)},
    )
    world.fire(team, "PaymentsApiDown", "5xx above 5%")
    world.fire(team, "PaymentsLatencyHigh", "p99 above 2 s")
    world.fire(other_team, "PlatformNodeDown", "node-3 unreachable")
    return world


def page_of(occurrence: AlertOccurrence) -> Reminder | None:
    return Reminder.objects.filter(
        kind=Kind.LIVE_PAGE, dedupe_key__startswith=f"live_page:occurrence:{occurrence.pk}:"
    ).first()


# --- the refusals, one per way a row really gets refused -----------------------


@dataclass
class Refusal:
    refused: int  # rows the round must report refused
    named: list[tuple[str, str]]  # the kind and key the log must name, per refused row
    checks: list = field(default_factory=list)  # more to assert after the round
    skipped: int = 0  # source rows that fail in Python, before the database


@contextmanager
def lone_surrogates(world: World) -> Iterator[Refusal]:
    """SQLite: text the driver cannot encode, stored in JSON before the receiver refused it.

    A new alert's page cannot be inserted, and an old alert whose summary
    changed cannot have its pending page refreshed (that page keeps its text).
    An alert whose labels hold one cannot even be worded (a link quotes them):
    its page fails alone in Python, before the database.
    """
    old = world.alerts["PaymentsLatencyHigh"]
    AlertOccurrence.objects.filter(pk=old.pk).update(annotations={"summary": "p99 \udfff"})
    new = world.fire(world.payments, "PaymentsCardDeclines", "declines \udfff")
    unworded = world.fire(
        world.payments, "PaymentsFraudCheck", "fraud checks slow", runbook_count=2
    )
    AlertOccurrence.objects.filter(pk=unworded.pk).update(labels={"service": "\udfff"})

    def old_page_kept_its_text():
        assert "p99 above 2 s" in page_of(old).body

    def nothing_for_the_new_or_the_unworded_alert():
        assert page_of(new) is None
        assert page_of(unworded) is None

    yield Refusal(
        refused=2,
        named=[
            (Kind.LIVE_PAGE, f"live_page:occurrence:{new.pk}:"),
            (Kind.LIVE_PAGE, f"live_page:occurrence:{old.pk}:"),
        ],
        checks=[old_page_kept_its_text, nothing_for_the_new_or_the_unworded_alert],
        skipped=1,
    )


@contextmanager
def recipient_deleted_during_the_round(world: World) -> Iterator[Refusal]:
    """Both databases: a person deleted (in the admin, say) after the round read them.

    The deletion commits on the round's own connection at its first statement
    on the outbox, after every planner has read; the reminders planned for
    that person are then refused by the foreign key when the insert commits.
    """
    leaver = make_user(get_user_model(), "leaver")
    Membership.objects.create(user=leaver, team=world.payments)
    shift(world.payments, leaver, world.people["primary"], starts_in=timedelta(days=2))
    deleted = []

    def delete_the_leaver_first(execute, sql, params, many, context):
        if not deleted and '"reminders_reminder"' in sql:
            deleted.append(leaver.pk)
            get_user_model().objects.filter(pk=leaver.pk).delete()
        return execute(sql, params, many, context)

    def the_leaver_was_deleted_by_the_round():
        assert deleted == [leaver.pk]
        assert not get_user_model().objects.filter(pk=leaver.pk).exists()

    with connection.execute_wrapper(delete_the_leaver_first):
        # 24 h and 1 h before the leaver's shift, by email.
        yield Refusal(
            refused=2,
            named=[(Kind.SHIFT_UPCOMING, f":user:{leaver.pk}:email")] * 2,
            checks=[the_leaver_was_deleted_by_the_round],
        )


REFUSALS = {
    "sqlite": [lone_surrogates, recipient_deleted_during_the_round],
    "postgresql": [recipient_deleted_during_the_round],
}[connection.vendor]


@pytest.mark.parametrize("provoke", REFUSALS, ids=lambda provoke: provoke.__name__)
def test_it_plans_every_other_reminder_around_a_row_the_database_refuses(
    world, provoke, caplog, settings
):
    settings.SITE_URL = "https://oncall.example.com"
    # Round one: every row is fine, and all of them go in with one statement.
    with CaptureQueriesContext(connection) as queries:
        first = plan_reminders()
    inserts = [q for q in queries if re.match(r'INSERT .*INTO "reminders_reminder"', q["sql"])]
    assert len(inserts) == 1
    assert first.created >= 3  # a live page per alert (and the platform lead's digest on Mondays)

    # Between rounds: new alerts and new shifts in both teams, and a changed summary.
    paging = world.fire(world.payments, "PaymentsQueueBacklog", "queue above 10k")
    platform = world.fire(world.platform, "PlatformDiskFull", "disk 95%")
    changed = world.alerts["PaymentsApiDown"]
    AlertOccurrence.objects.filter(pk=changed.pk).update(annotations={"summary": "5xx above 20%"})
    payments_shift = shift(
        world.payments,
        world.people["trainee"],
        world.people["primary"],
        starts_in=timedelta(hours=5),
    )
    platform_shift = shift(
        world.platform,
        world.people["newcomer"],
        world.people["outsider"],
        starts_in=timedelta(hours=5),
    )

    with caplog.at_level(logging.ERROR, logger="oncall.reminders"), provoke(world) as refusal:
        result = plan_reminders()

    # The same team's other reminders and the other team's are all there.
    assert page_of(paging).recipient == world.people["trainee"]
    assert page_of(platform).recipient == world.people["newcomer"]
    assert "5xx above 20%" in page_of(changed).body
    assert page_of(world.alerts["PlatformNodeDown"]).state == Reminder.State.PENDING
    for one_shift, people in (
        (payments_shift, {"trainee", "primary"}),
        (platform_shift, {"newcomer", "outsider"}),
    ):
        upcoming = Reminder.objects.filter(
            kind=Kind.SHIFT_UPCOMING, dedupe_key__contains=f"shift:{one_shift.uid}:"
        )
        assert {r.recipient.username for r in upcoming} == people
    for check in refusal.checks:
        check()
    assert (result.refused, result.skipped) == (refusal.refused, refusal.skipped)
    # Each refused row is named in the log with its kind and key.
    logged = [r.getMessage() for r in caplog.records if r.name == "oncall.reminders.outbox"]
    assert len(logged) == refusal.refused
    for kind, key in refusal.named:
        assert any(f"a {kind} reminder" in line and key in line for line in logged), logged
