"""Shadow plans kept in step with the rotation: swaps, removals, moves, clashes, hand edits."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.management import call_command

from oncall.rotations.models import PlanShift, Rotation, ShadowPlan
from oncall.rotations.read import read_rotation
from oncall.rotations.reconcile import reconcile_plan
from oncall.shifts.models import ScheduleChange, ShadowShift
from oncall.shifts.schedule import apply_moves, schedule_shifts
from oncall.shifts.series import Occurrence
from tests.conftest import make_user

NOW = datetime(2026, 12, 10, tzinfo=UTC)


def feed(*events: tuple[str, str, str, str]) -> str:
    """(uid, start, end, username) → an iCalendar feed naming people by ATTENDEE."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//PagerDuty//On-Call Schedule//EN"]
    for uid, start, end, who in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTART:{start}",
            f"DTEND:{end}",
            f"SUMMARY:On Call - {who} - Payments",
            f"ATTENDEE:{who}@example.com",
            "END:VEVENT",
        ]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


# Tokyo days: 09:00–21:00 JST is 00:00–12:00 UTC.
DAY1 = ("d1", "20261214T000000Z", "20261214T120000Z", "primary")
DAY2 = ("d2", "20261215T000000Z", "20261215T120000Z", "lead")
DAY3 = ("d3", "20261216T000000Z", "20261216T120000Z", "primary")
NIGHT = ("n1", "20261216T120000Z", "20261217T000000Z", "lead")  # 21:00 JST


@pytest.fixture
def rotation(team, lead, primary, trainee):
    return Rotation.objects.create(
        team=team, name="Payments", uploaded=feed(DAY1, DAY2, DAY3, NIGHT), person_rule="pagerduty"
    )


@pytest.fixture
def plan(rotation, trainee):
    return ShadowPlan.objects.create(
        rotation=rotation, trainee=trainee, starts_on=date(2026, 12, 14), ends_on=date(2027, 1, 10)
    )


def ours(plan) -> dict[str, ShadowShift]:
    return {
        link.key: link.shift
        for link in PlanShift.objects.filter(plan=plan).select_related("shift", "shift__primary")
        if link.shift is not None
    }


def change(rotation, *events, now=NOW):
    rotation.uploaded = feed(*events)
    rotation.save(update_fields=["uploaded"])
    return read_rotation(rotation, now=now)


def test_it_pairs_the_trainee_with_whoever_holds_each_shift(rotation, plan, trainee):
    result = read_rotation(rotation, now=NOW)
    assert result.plans.scheduled == 4
    shifts = ours(plan)
    assert {k: s.primary.username for k, s in shifts.items()} == {
        "d1": "primary",
        "d2": "lead",
        "d3": "primary",
        "n1": "lead",
    }
    assert all(s.trainee == trainee and s.kind == "shadow" for s in shifts.values())
    # One notice per primary's batch, not one per shift.
    assert ScheduleChange.objects.filter(what="scheduled").count() == 2


def test_a_swap_in_the_feed_changes_the_primary_with_a_notice_and_a_sequence_bump(
    rotation, plan, lead, primary
):
    read_rotation(rotation, now=NOW)
    before = ours(plan)["d1"]
    result = change(rotation, (*DAY1[:3], "lead"), DAY2, DAY3, NIGHT)
    assert result.plans.moved == 1
    after = ShadowShift.objects.get(pk=before.pk)
    assert after.primary == lead
    assert after.sequence == before.sequence + 1
    notice = ScheduleChange.objects.get(what="moved")
    assert set(notice.people.values_list("username", flat=True)) == {"trainee", "lead", "primary"}


def test_a_removed_shift_cancels_ours(rotation, plan):
    read_rotation(rotation, now=NOW)
    d2 = ours(plan)["d2"]
    result = change(rotation, DAY1, DAY3, NIGHT)
    assert result.plans.cancelled == 1
    assert ShadowShift.objects.get(pk=d2.pk).state == "cancelled"
    assert ScheduleChange.objects.filter(what="cancelled", shifts=d2).exists()


def test_a_moved_shift_moves_ours(rotation, plan):
    read_rotation(rotation, now=NOW)
    d3 = ours(plan)["d3"]
    change(rotation, DAY1, DAY2, ("d3", "20261216T010000Z", "20261216T110000Z", "primary"), NIGHT)
    moved = ShadowShift.objects.get(pk=d3.pk)
    assert (moved.starts_at, moved.ends_at) == (
        datetime(2026, 12, 16, 1, tzinfo=UTC),
        datetime(2026, 12, 16, 11, tzinfo=UTC),
    )
    assert (
        ScheduleChange.objects.get(what="moved").before[str(d3.pk)][0].startswith("2026-12-16T00")
    )


def test_a_clash_with_the_trainees_other_shift_is_named_and_only_that_shift_skipped(
    django_user_model, rotation, plan, team, trainee, capsys
):
    mentor = make_user(django_user_model, "mentor")
    [other] = schedule_shifts(
        team=team,
        trainee=trainee,
        primary=mentor,
        kind="shadow",
        occurrences=[
            Occurrence(
                date(2026, 12, 15),
                datetime(2026, 12, 15, 6, tzinfo=UTC),
                datetime(2026, 12, 15, 8, tzinfo=UTC),
            )
        ],
        time_zone="Asia/Tokyo",
        created_by=None,
    )
    result = read_rotation(rotation, now=NOW)
    assert result.plans.scheduled == 3 and result.plans.skipped == 1
    assert "d2" not in ours(plan)
    link = PlanShift.objects.get(plan=plan, key="d2")
    assert (link.clash_with, link.clash_person) == (other, trainee)
    assert f"shift #{other.pk} of trainee" in result.line()


def test_a_shift_edited_by_hand_is_marked_and_left_alone(rotation, plan, lead, primary, trainee):
    read_rotation(rotation, now=NOW)
    d1 = ours(plan)["d1"]
    apply_moves(
        plan=[
            (
                d1,
                Occurrence(
                    date(2026, 12, 14),
                    datetime(2026, 12, 14, 1, tzinfo=UTC),
                    datetime(2026, 12, 14, 12, tzinfo=UTC),
                ),
            )
        ],
        trainee=trainee,
        primary=primary,
        kind="shadow",
        time_zone="Asia/Tokyo",
        by=lead,
    )
    # The feed swaps d1 and drops d2's... d1 stays as the lead left it.
    result = change(rotation, (*DAY1[:3], "lead"), DAY2, DAY3, NIGHT)
    assert result.plans.hand_edited == 1 and result.plans.moved == 0
    kept = ShadowShift.objects.get(pk=d1.pk)
    assert (kept.primary, kept.starts_at) == (primary, datetime(2026, 12, 14, 1, tzinfo=UTC))
    assert PlanShift.objects.get(plan=plan, key="d1").hand_edited
    # Removed from the feed later: still left alone.
    change(rotation, DAY2, DAY3, NIGHT)
    assert ShadowShift.objects.get(pk=d1.pk).state == "scheduled"


def test_a_shift_deleted_by_hand_is_not_written_again(rotation, plan):
    read_rotation(rotation, now=NOW)
    ours(plan)["d1"].delete()
    result = change(rotation, (*DAY1[:3], "lead"), DAY2, DAY3, NIGHT)
    assert result.plans.scheduled == 0 and result.plans.hand_edited == 1
    assert "d1" not in ours(plan)


def test_filters_hours_and_count_and_a_reverse_shadow(rotation, trainee):
    plan = ShadowPlan.objects.create(
        rotation=rotation,
        trainee=trainee,
        kind="reverse_shadow",
        starts_on=date(2026, 12, 14),
        ends_on=date(2026, 12, 31),
        earliest_start=time(9),
        latest_start=time(20),
        max_shifts=2,
    )
    read_rotation(rotation, now=NOW)
    shifts = ours(plan)
    assert sorted(shifts) == ["d1", "d2"]  # the 21:00 night is out, and at most 2
    assert {s.kind for s in shifts.values()} == {"reverse_shadow"}


def test_shifts_already_begun_are_history(rotation, plan):
    read_rotation(rotation, now=NOW)
    d1 = ours(plan)["d1"]
    later = datetime(2026, 12, 14, 6, tzinfo=UTC)  # d1 is under way
    change(rotation, DAY2, DAY3, NIGHT, now=later)
    assert ShadowShift.objects.get(pk=d1.pk).state == "scheduled"


def test_the_plan_waits_for_a_trainee_on_the_rotation_and_skips_their_own_shifts(rotation, trainee):
    rotation.uploaded = feed(DAY1, ("d2", DAY2[1], DAY2[2], "trainee"))
    rotation.save()
    plan = ShadowPlan.objects.create(
        rotation=rotation, trainee=trainee, starts_on=date(2026, 12, 14), ends_on=date(2026, 12, 20)
    )
    read_rotation(rotation, now=NOW)
    assert sorted(ours(plan)) == ["d1"]


def test_reconciling_twice_changes_nothing(rotation, plan):
    read_rotation(rotation, now=NOW)
    again = reconcile_plan(plan, now=NOW)
    assert not again.changed and again.skipped == 0


def test_the_commands_add_shadow_and_read(team, lead, primary, trainee, settings, capsys):
    from tests.fixtures.rotations.server import FeedServer

    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with FeedServer() as server:
        server.feeds["/p.ics"] = feed(
            *(
                (f"w{n}", f"{d:%Y%m%d}T000000Z", f"{d:%Y%m%d}T120000Z", "primary")
                for n, d in enumerate(
                    datetime.now(UTC).date() + timedelta(days=k) for k in range(1, 6)
                )
            )
        ).encode()
        call_command(
            "add_rotation",
            "payments",
            "--name",
            "Payments",
            "--url",
            server.url("/p.ics"),
            "--person",
            "pagerduty",
        )
        call_command("read_rotations", "--team", "payments")
        first = capsys.readouterr().out
        assert "payments/Payments: read 5 shifts" in first
        today = datetime.now(UTC).date()
        call_command(
            "shadow_rotation",
            "payments",
            "Payments",
            "--trainee",
            "trainee",
            "--from",
            str(today),
            "--to",
            str(today + timedelta(days=10)),
            "--kind",
            "reverse_shadow",
        )
        assert "5 shadow shifts scheduled" in capsys.readouterr().out
        call_command("read_rotations")
        assert "payments/Payments: not modified (304)" in capsys.readouterr().out
    assert ShadowShift.objects.filter(trainee=trainee, kind="reverse_shadow").count() == 5


def test_the_command_names_a_bad_person_rule(team):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="regular expression is not valid"):
        call_command(
            "add_rotation",
            "payments",
            "--name",
            "X",
            "--url",
            "https://example.com/x.ics",
            "--person",
            "(unclosed",
        )


def test_a_shift_starting_at_the_plans_first_local_midnight_is_shadowed(rotation, plan):
    # 14 Dec 00:00 in Tokyo, the team's zone, is 13 Dec 15:00 UTC.
    change(rotation, ("m", "20261213T150000Z", "20261213T230000Z", "primary"))
    assert sorted(ours(plan)) == ["m"]
