"""The debrief as a conversation: the trainee's part and the primary's answer, each its author's."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from oncall.reminders.models import Reminder
from oncall.reminders.plan import plan_reminders
from oncall.shifts.models import ShadowShift
from tests.test_shifts import make_shift


@pytest.fixture
def shift(team, trainee, primary):
    return make_shift(team, trainee, primary, timezone.now() - timedelta(hours=10))


def write(client, shift, **fields):
    data = {"pages_seen": "PaymentsHighErrorRate at 14:10", **fields}
    return client.post(reverse("shifts:debrief", args=[shift.pk]), data)


def test_it_lets_only_the_trainee_write_their_part(client_for, shift, trainee, primary, lead):
    for other in (primary, lead):
        assert write(client_for(other), shift).status_code == 403
    shift.refresh_from_db()
    assert shift.debriefed_at is None
    response = write(
        client_for(trainee),
        shift,
        open_questions="- Who decides to fail over?\n- Where is the acquirer dashboard?",
    )
    assert response.status_code == 302
    shift.refresh_from_db()
    assert shift.open_questions == [
        "Who decides to fail over?",
        "Where is the acquirer dashboard?",
    ]
    # The primary reads the trainee's part but gets no form for it.
    page = client_for(primary).get(shift.get_absolute_url()).content.decode()
    assert 'name="pages_seen"' not in page
    assert "PaymentsHighErrorRate at 14:10" in page


def test_it_lets_only_the_primary_answer_each_question(client_for, shift, trainee, primary, lead):
    write(client_for(trainee), shift, open_questions="Who decides to fail over?\nWhat is RPO?")
    answer_url = reverse("shifts:answer", args=[shift.pk])
    for other in (trainee, lead):
        assert client_for(other).post(answer_url, {"answer_0": "x"}).status_code == 403

    page = client_for(primary).get(shift.get_absolute_url()).content.decode()
    assert "Who decides to fail over?" in page and 'name="answer_1"' in page
    # "Not yet" needs a reason; what was typed is kept.
    response = client_for(primary).post(
        answer_url, {"answer_0": "The incident commander.", "ready_for_reverse": "not_yet"}
    )
    assert response.status_code == 422
    assert "Say what is still missing" in response.content.decode()
    assert "The incident commander." in response.content.decode()

    client_for(primary).post(
        answer_url,
        {
            "answer_0": "The incident commander.",
            "answer_1": "15 minutes.",
            "runbooks_to_fix": "Failover: step 3 names the wrong host.",
            "ready_for_reverse": "not_yet",
            "ready_reason": "One more night shift first.",
        },
    )
    shift.refresh_from_db()
    assert shift.answered_by == primary and shift.answered_at is not None
    assert shift.answered_questions == [
        ("Who decides to fail over?", "The incident commander."),
        ("What is RPO?", "15 minutes."),
    ]
    # The trainee reads the answer, and cannot edit it.
    page = client_for(trainee).get(shift.get_absolute_url()).content.decode()
    assert "The incident commander." in page and 'name="answer_0"' not in page
    assert "One more night shift first." in page


def test_it_tells_the_trainee_when_answered(client_for, shift, trainee, primary):
    write(client_for(trainee), shift, open_questions="Who decides to fail over?")
    client_for(primary).post(
        reverse("shifts:answer", args=[shift.pk]), {"answer_0": "The incident commander."}
    )
    plan_reminders()
    notice = Reminder.objects.get(kind=Reminder.Kind.DEBRIEF_ANSWERED)
    assert notice.recipient == trainee
    assert "answered" in notice.subject


def test_it_shows_leads_questions_left_unanswered_for_three_days(
    client_for, shift, trainee, lead, team
):
    write(client_for(trainee), shift, open_questions="Who decides to fail over?")
    dashboard = reverse("readiness:dashboard", args=[team.slug])
    assert "Who decides to fail over?" not in client_for(lead).get(dashboard).content.decode()
    ShadowShift.objects.filter(pk=shift.pk).update(
        debriefed_at=timezone.now() - timedelta(days=3, hours=1)
    )
    page = client_for(lead).get(dashboard).content.decode()
    assert "Unanswered questions" in page and "Who decides to fail over?" in page
