"""People hear when a lead schedules, moves or cancels their shifts: one notice per change."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from oncall.reminders.models import Reminder
from oncall.reminders.plan import plan_reminders
from oncall.shifts.models import ShadowShift
from oncall.shifts.schedule import apply_moves, cancel_shifts, plan_moves, schedule_shifts
from oncall.shifts.series import Occurrence
from oncall.teams.models import Membership
from tests.conftest import make_user
from tests.test_shifts import form_data

Kind = Reminder.Kind
TOKYO_DAY = datetime(2030, 12, 10, 1, 0, tzinfo=UTC)  # Tue 10 Dec 2030, 10:00 JST


def notices(**filters) -> list[Reminder]:
    return list(Reminder.objects.filter(kind=Kind.SCHEDULE_CHANGED, **filters).order_by("pk"))


def test_it_tells_the_pair_but_not_the_lead_who_scheduled(client_for, lead, trainee, primary):
    response = client_for(lead).post(
        reverse("shifts:new"), form_data(trainee, primary, repeat="weekdays", weeks="1")
    )
    assert response.status_code == 302
    plan_reminders()
    sent_to = sorted(r.recipient.username for r in notices())
    assert sent_to == ["primary", "trainee"]  # one notice each for the whole series
    subject = notices(recipient=trainee)[0].subject
    assert subject == "5 new shifts for you"
    assert "Changed by lead." in notices(recipient=trainee)[0].body


def test_it_names_the_day_a_shift_moved_from_and_where_to(team, lead, trainee, primary):
    (shift,) = schedule_shifts(
        team=team,
        trainee=trainee,
        primary=primary,
        kind=ShadowShift.Kind.SHADOW,
        occurrences=[Occurrence(TOKYO_DAY.date(), TOKYO_DAY, TOKYO_DAY + timedelta(hours=8))],
        time_zone="Asia/Tokyo",
        created_by=lead,
    )
    moves = plan_moves(
        shifts=[shift],
        first_date=TOKYO_DAY.date(),
        start_time=time(22, 0),
        end_time=time(6, 0),
        end_days=1,
        tz=team.tz,
    )
    apply_moves(
        plan=moves, trainee=trainee, primary=primary, kind="shadow", time_zone="Asia/Tokyo", by=lead
    )
    plan_reminders()
    moved = [r for r in notices(recipient=trainee) if "moved" in r.subject]
    assert [r.subject for r in moved] == [
        "Your shadow shift on Tue 10 Dec moved to Tue 10 Dec, 22:00 – Wed 11 Dec 2030, 06:00 JST"
    ]


def test_it_sends_nothing_for_your_own_change_and_one_notice_per_change(
    team, lead, trainee, primary
):
    shifts = schedule_shifts(
        team=team,
        trainee=trainee,
        primary=primary,
        kind=ShadowShift.Kind.SHADOW,
        occurrences=[
            Occurrence(
                (TOKYO_DAY + timedelta(days=d)).date(),
                TOKYO_DAY + timedelta(days=d),
                TOKYO_DAY + timedelta(days=d, hours=8),
            )
            for d in range(4)
        ],
        time_zone="Asia/Tokyo",
        created_by=trainee,  # e.g. staff scheduling their own shifts
    )
    cancel_shifts(shifts=shifts, by=lead)
    plan_reminders()
    plan_reminders()  # planning twice adds nothing
    assert sorted(r.recipient.username for r in notices()) == ["primary", "primary", "trainee"]
    assert [r.subject for r in notices(recipient=trainee)] == ["4 shifts cancelled"]


@pytest.mark.parametrize("who", ["trainee", "primary"])
def test_it_tells_someone_taken_off_a_shift(team, lead, trainee, primary, django_user_model, who):

    other = make_user(django_user_model, "other")
    Membership.objects.create(user=other, team=team)
    (shift,) = schedule_shifts(
        team=team,
        trainee=trainee,
        primary=primary,
        kind="shadow",
        occurrences=[Occurrence(TOKYO_DAY.date(), TOKYO_DAY, TOKYO_DAY + timedelta(hours=8))],
        time_zone="UTC",
        created_by=lead,
    )
    moves = plan_moves(
        shifts=[shift],
        first_date=TOKYO_DAY.date(),
        start_time=time(1, 0),
        end_time=time(9, 0),
        end_days=0,
        tz=ZoneInfo("UTC"),
    )
    pair = {"trainee": other if who == "trainee" else trainee}
    pair["primary"] = other if who == "primary" else primary
    apply_moves(plan=moves, kind="shadow", time_zone="UTC", by=lead, **pair)
    plan_reminders()
    removed = trainee if who == "trainee" else primary
    assert len(notices(recipient=removed)) == 2  # scheduled, then moved off
    assert len(notices(recipient=other)) == 1
