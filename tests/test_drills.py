"""Drills: scenarios, the replay's claim, the console's flows, grading and access."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from oncall.alerts.models import AlertOccurrence
from oncall.drills import files, replay, running
from oncall.drills.models import (
    Drill,
    DrillPage,
    PlayedStep,
    Response,
    ResponseEvent,
    Scenario,
    ScenarioStep,
)
from oncall.drills.record import record_scenario, store_scenario
from oncall.drills.running import DrillError
from oncall.drills.steps import StepError, check_steps
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift

T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)

STEPS = [
    {
        "kind": "fired",
        "offset": 0,
        "alertname": "PaymentsApiHighErrorRate",
        "labels": {"severity": "critical", "service": "payments-api"},
        "annotations": {"summary": "5xx above 5%", "description": "Error rate is 12%"},
        "runbook": "payments/errors",
    },
    {"kind": "inject", "offset": 60, "text": "The error-rate graph shows a step at 03:00."},
    {
        "kind": "resolved",
        "offset": 120,
        "alertname": "PaymentsApiHighErrorRate",
        "labels": {"severity": "critical", "service": "payments-api"},
    },
]


@pytest.fixture
def runbook(team):
    return Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)


@pytest.fixture
def scenario(team, lead, runbook):
    return store_scenario(
        team=team,
        title="Payments outage of 2 November",
        specs=check_steps(STEPS),
        by=lead,
        brief="Payments look unhappy.",
        hidden_notes="The deploy at 02:58 broke the database pool.",
        root_cause="A bad connection-pool setting",
    )


@pytest.fixture
def drill(scenario, trainee, lead):
    return running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)


def tick(drill, seconds):
    """One replay tick, ``seconds`` after the drill started."""
    drill.refresh_from_db()
    return replay.replay(now=drill.started_at + timedelta(seconds=seconds))


# -- steps: the rule --


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"kind": "fired", "offset": -5, "alertname": "A"}, "step 1: offset -5 is below 0"),
        ({"kind": "fired", "offset": 86401, "alertname": "A"}, "step 1: offset 86401 is over 24"),
        ({"kind": "fired", "offset": "soon", "alertname": "A"}, "is not a whole number"),
        (
            {"kind": "fired", "offset": 0, "alertname": "A", "labels": {"n": 5}},
            "labels n must be a string",
        ),
        (
            {"kind": "fired", "offset": 0, "alertname": "A", "labels": {"n": "x" * 1025}},
            "longer than 1024 bytes",
        ),
        ({"kind": "fired", "offset": 0, "alertname": "A", "labels": {"n": "a\x00"}}, "NUL"),
        ({"kind": "fired", "offset": 0}, "needs an alertname"),
        ({"kind": "inject", "offset": 0}, "an inject needs text"),
        ({"kind": "page", "offset": 0}, "is not one of fired, resolved, inject"),
    ],
)
def test_it_names_a_bad_step(step, message):
    with pytest.raises(StepError, match=message):
        check_steps([{"kind": "inject", "offset": 0, "text": "ok"}, step][1:])


def test_it_refuses_more_than_200_steps():
    steps = [{"kind": "inject", "offset": n, "text": "x"} for n in range(201)]
    with pytest.raises(StepError, match="at most 200 steps, not 201"):
        check_steps(steps)
    assert len(check_steps(steps[:200])) == 200


def test_it_stops_a_step_over_a_day_in_the_database_too(scenario):
    with pytest.raises(IntegrityError), transaction.atomic():
        ScenarioStep.objects.create(scenario=scenario, position=99, kind="inject", offset=86401)


# -- recording from history --


def occurrence(team, runbook, minutes, name="PaymentsApiHighErrorRate", ends=None, **labels):
    return AlertOccurrence.objects.create(
        fingerprint=f"{name}{minutes}",
        starts_at=T0 + timedelta(minutes=minutes),
        ends_at=T0 + timedelta(minutes=ends) if ends is not None else None,
        status="resolved" if ends is not None else "firing",
        team=team,
        alertname=name,
        alert_key=name.lower(),
        labels={"alertname": name, "severity": "critical", **labels},
        annotations={"summary": "Acme Corp's checkout fails"},
        runbook=runbook,
    )


def test_it_records_order_offsets_and_runbooks_from_the_first_alert(team, lead, runbook):
    later = occurrence(team, None, 7, name="PaymentsDbSlow", ends=20)
    first = occurrence(team, runbook, 2, ends=9)
    scenario = record_scenario(
        team=team,
        title="t",
        occurrences=[later, first],
        edits={first.pk: ({"severity": "critical"}, {"summary": "A customer's checkout fails"})},
        injects=[(300, "Logs show pool exhausted")],
        by=lead,
    )
    steps = [
        (s.kind, s.offset, s.alertname, s.runbook_id) for s in scenario.steps.order_by("position")
    ]
    assert steps == [
        ("fired", 0, "PaymentsApiHighErrorRate", runbook.pk),
        ("fired", 300, "PaymentsDbSlow", None),
        ("inject", 300, "", None),
        ("resolved", 420, "PaymentsApiHighErrorRate", runbook.pk),
        ("resolved", 1080, "PaymentsDbSlow", None),
    ]
    edited = scenario.steps.get(position=1)
    assert edited.annotations == {"summary": "A customer's checkout fails"}
    assert list(scenario.expected_runbooks.all()) == [runbook]


def test_record_scenario_command_prints_the_id(team, runbook, capsys):
    occurrence(team, runbook, 1)
    occurrence(team, runbook, 90)  # outside the window
    call_command(
        "record_scenario",
        "payments",
        "--from",
        "2026-11-02T03:00Z",
        "--to",
        "2026-11-02T04:00Z",
        "--title",
        "Night of 2 November",
    )
    scenario = Scenario.objects.get(pk=int(capsys.readouterr().out.strip()))
    assert scenario.title == "Night of 2 November"
    assert scenario.steps.count() == 1


def test_record_scenario_command_names_bad_input(team):
    with pytest.raises(CommandError, match="no alert"):
        call_command(
            "record_scenario",
            "payments",
            "--from",
            "2026-11-02T03:00Z",
            "--to",
            "2026-11-02T04:00Z",
            "--title",
            "T",
        )
    with pytest.raises(CommandError, match="needs a time zone offset"):
        call_command(
            "record_scenario",
            "payments",
            "--from",
            "2026-11-02T03:00",
            "--to",
            "2026-11-02T04:00Z",
            "--title",
            "T",
        )


def test_the_record_page_saves_picked_alerts_with_edited_labels(client_for, lead, team, runbook):
    first = occurrence(team, runbook, 0, customer="acme")
    occurrence(team, runbook, 5, name="Unpicked")
    client = client_for(lead)
    window = {"start": "2026-11-02T11:00", "end": "2026-11-02T13:00"}  # Asia/Tokyo
    page = client.get("/teams/payments/scenarios/record/", window)
    assert page.status_code == 200
    assert "Unpicked" in page.text and f'value="{first.pk}"' in page.text
    response = client.post(
        "/teams/payments/scenarios/record/",
        {
            **window,
            "occurrence": [str(first.pk)],
            f"labels-{first.pk}": "severity=critical",
            f"annotations-{first.pk}": "summary=A customer's checkout fails",
            "inject_offset": ["2", ""],
            "inject_text": ["Graph: 5xx at 12%", ""],
            "title": "Checkout outage",
            "root_cause": "pool",
            "ack_target": "3",
        },
    )
    scenario = Scenario.objects.get()
    assert response.status_code == 302 and response["Location"] == scenario.get_absolute_url()
    fired = scenario.steps.get(kind="fired")
    assert fired.labels == {"severity": "critical", "alertname": "PaymentsApiHighErrorRate"}
    assert "acme" not in str(fired.labels) + str(fired.annotations)
    assert scenario.steps.get(kind="inject").offset == 120
    assert scenario.ack_target == 180


def test_the_record_page_names_a_bad_label_line_and_keeps_what_was_typed(client_for, lead, team):
    first = occurrence(team, None, 0)
    response = client_for(lead).post(
        "/teams/payments/scenarios/record/",
        {
            "start": "2026-11-02T11:00",
            "end": "2026-11-02T13:00",
            "occurrence": [str(first.pk)],
            f"labels-{first.pk}": "no equals sign here",
            "title": "T",
            "ack_target": "5",
        },
    )
    assert response.status_code == 400
    assert "Labels line 1 is not key=value." in response.text
    assert "no equals sign here" in response.text
    assert not Scenario.objects.exists()


# -- files --


def test_a_scenario_downloads_as_a_file_that_reads_back_to_the_same_steps(
    client_for, lead, scenario
):
    response = client_for(lead).get(f"/teams/payments/scenarios/{scenario.pk}/download/")
    assert response.status_code == 200
    assert (
        response["Content-Disposition"] == 'attachment; filename="payments-outage-of-2-november.md"'
    )
    parsed = files.parse(response.content)
    assert parsed.title == scenario.title
    assert parsed.notes == scenario.hidden_notes
    assert parsed.root_cause == scenario.root_cause
    assert parsed.expected_runbooks == ["payments/errors"]
    assert [(s.kind, s.offset, s.alertname, s.labels, s.text) for s in parsed.steps] == [
        (
            s.kind,
            s.offset,
            s.alertname,
            {**s.labels, "alertname": s.alertname} if s.alertname else {},
            s.text,
        )
        for s in scenario.steps.order_by("position")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"no front matter", "no front matter with steps"),
        (b"---\ntitle: T\nsteps: [\n---\n", "not valid YAML"),
        (
            b"---\ntitle: T\nsteps:\n  - {kind: fired, offset: -1, alertname: A}\n---\n",
            "step 1: offset -1 is below 0",
        ),
        (b"---\ntitle: T\nsteps:\n  - {kind: inject, offset: 1, text: x}\n---\n", "no fired alert"),
        (b"---\nsteps:\n  - {kind: fired, offset: 1, alertname: A}\n---\n", "title is missing"),
        (
            b"---\ntitle: T\nack_target: -3\nsteps:\n  - {kind: fired, offset: 1, alertname: A}\n---\n",
            "ack_target",
        ),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_bad_file_is_named(text, message):
    with pytest.raises(files.BadDrillFile, match=message):
        files.parse(text)


def test_the_documented_example_parses():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "drill-format.md").read_text()
    example = doc.split("```markdown\n", 1)[1].split("\n```", 1)[0]
    parsed = files.parse(example)
    assert [s.kind for s in parsed.steps] == ["fired", "inject", "fired", "resolved", "resolved"]


# -- scheduling --


def test_a_trainee_cannot_run_their_own_drill(scenario, trainee):
    with pytest.raises(DrillError, match="cannot run their own drill"):
        running.schedule_drill(scenario=scenario, trainee=trainee, game_master=trainee)


def test_a_member_who_is_no_primary_cannot_be_game_master(scenario, trainee, primary):
    with pytest.raises(DrillError, match="a lead or a primary of the team"):
        running.schedule_drill(scenario=scenario, trainee=trainee, game_master=primary)
    ShadowShift.objects.create(
        team=scenario.team,
        trainee=trainee,
        primary=primary,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=4),
    )
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=primary)
    assert drill.game_master == primary


def test_a_scenario_with_no_alert_cannot_start(team, lead, trainee):
    injects = store_scenario(
        team=team, title="quiet", specs=check_steps([{"kind": "inject", "offset": 0, "text": "x"}])
    )
    with pytest.raises(DrillError, match="no alert"):
        running.schedule_drill(scenario=injects, trainee=trainee, game_master=lead)


def test_start_drill_command_prints_id_and_console_url(scenario, trainee, lead, capsys, settings):
    call_command("start_drill", str(scenario.pk), "--trainee", "trainee", "--game-master", "lead")
    drill_id, url = capsys.readouterr().out.split()
    drill = Drill.objects.get(pk=int(drill_id))
    assert url == f"{settings.SITE_URL}/drills/{drill.pk}/"
    assert drill.state == Drill.State.RUNNING
    with pytest.raises(CommandError, match="own drill"):
        call_command("start_drill", str(scenario.pk), "--trainee", "lead", "--game-master", "lead")


def test_a_drill_scheduled_later_waits_then_starts_on_a_tick(scenario, trainee, lead):
    at = timezone.now() + timedelta(hours=1)
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead, at=at)
    assert drill.state == Drill.State.SCHEDULED
    replay.replay(now=at - timedelta(seconds=1))
    drill.refresh_from_db()
    assert drill.state == Drill.State.SCHEDULED
    replay.replay(now=at)
    drill.refresh_from_db()
    assert (drill.state, drill.started_at) == (Drill.State.RUNNING, at)
    assert DrillPage.objects.filter(drill=drill).count() == 1


# -- replay --


def test_replay_plays_each_step_at_its_offset_once(drill):
    assert tick(drill, 0) == 1
    assert tick(drill, 0) == 0
    page = DrillPage.objects.get(drill=drill)
    assert page.is_firing and page.runbook.slug == "payments/errors"
    assert tick(drill, 59) == 0
    assert tick(drill, 130) == 2  # the inject and the resolve
    page.refresh_from_db()
    assert not page.is_firing
    assert ResponseEvent.objects.filter(kind="inject_released").count() == 1
    assert PlayedStep.objects.filter(drill=drill).count() == 3
    assert not AlertOccurrence.objects.exists()  # drill pages never become real alerts


def test_a_second_player_of_a_claimed_step_changes_nothing(drill):
    step = drill.scenario.steps.get(kind="fired")
    assert replay.play_step(drill, step, now=timezone.now()) is True
    assert replay.play_step(drill, step, now=timezone.now()) is False
    assert DrillPage.objects.filter(drill=drill).count() == 1


def test_an_ended_drill_plays_no_more_steps(drill, lead):
    tick(drill, 0)
    running.finish(drill=drill, by=lead)
    assert tick(drill, 500) == 0
    assert PlayedStep.objects.filter(drill=drill).count() == 1


# -- the console: access --


@pytest.fixture
def stranger_member(django_user_model, team):
    from tests.conftest import make_user

    user = make_user(django_user_model, "teammate")
    from oncall.teams.models import Membership

    Membership.objects.create(user=user, team=team)
    return user


def test_only_trainee_game_master_and_leads_see_a_drill(
    client_for, drill, trainee, lead, stranger_member, outsider
):
    url = f"/drills/{drill.pk}/"
    assert client_for(trainee).get(url).status_code == 200
    assert client_for(lead).get(url).status_code == 200
    assert client_for(stranger_member).get(url).status_code == 404
    assert client_for(outsider).get(url).status_code == 404
    for action in ("acknowledge", "note", "end", "finish", "grade"):
        assert client_for(outsider).post(f"{url}{action}/").status_code == 404
    assert client_for(outsider).get("/teams/payments/scenarios/").status_code == 404
    assert client_for(trainee).get("/teams/payments/scenarios/").status_code == 404
    assert (
        client_for(trainee).get(f"/teams/payments/scenarios/{drill.scenario_id}/").status_code
        == 404
    )


def test_the_trainee_sees_hidden_notes_only_after_the_end(client_for, drill, trainee, lead):
    tick(drill, 0)
    page = client_for(trainee).get(f"/drills/{drill.pk}/").text
    assert "PaymentsApiHighErrorRate" in page and "5xx above 5%" in page
    assert "connection-pool" not in page and "broke the database pool" not in page
    assert "connection-pool" in client_for(lead).get(f"/drills/{drill.pk}/").text
    running.end_response(drill=drill, by=trainee, choice="mitigated")
    page = client_for(trainee).get(f"/drills/{drill.pk}/").text
    assert "connection-pool" in page and "broke the database pool" in page


def test_every_console_post_needs_csrf(drill, trainee):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(trainee)
    assert client.post(f"/drills/{drill.pk}/acknowledge/").status_code == 403
    assert Response.objects.get(drill=drill).acknowledged_at is None


# -- the console: flows --


def test_the_trainee_works_the_drill_from_the_console(client_for, drill, trainee, runbook):
    tick(drill, 0)
    client = client_for(trainee)
    url = f"/drills/{drill.pk}/"
    assert client.post(f"{url}acknowledge/").status_code == 302
    assert client.post(f"{url}acknowledge/").status_code == 302  # twice: nothing more
    # The console links to the runbook page, which records the opening.
    assert f"/runbooks/payments/errors/?drill={drill.pk}" in client.get(url).text
    opened = client.get(f"/runbooks/payments/errors/?drill={drill.pk}")
    assert opened.status_code == 200 and "Back to the console" in opened.text
    # The former link of the console only leads there.
    former = client.get(f"{url}runbooks/payments/errors")
    assert former["Location"] == f"/runbooks/payments/errors/?drill={drill.pk}"
    client.post(f"{url}note/", {"text": "DB pool exhausted?", "hypothesis": "on"})
    client.post(f"{url}note/", {"text": "checking the deploy log"})
    response = client.post(f"{url}end/", {"choice": "escalate", "text": "the DB team"})
    assert response.status_code == 302
    kinds = list(ResponseEvent.objects.filter(response__drill=drill).values_list("kind", flat=True))
    assert kinds == ["acknowledged", "runbook_opened", "hypothesis", "note", "ended"]
    drill.refresh_from_db()
    answer = Response.objects.get(drill=drill)
    assert drill.state == Drill.State.ENDED
    assert (answer.end_choice, answer.end_text, answer.hypothesis) == (
        "escalate",
        "the DB team",
        "DB pool exhausted?",
    )


def test_htmx_gets_the_partial_and_the_poll_gets_the_live_region(client_for, drill, trainee):
    tick(drill, 0)
    client = client_for(trainee)
    posted = client.post(f"/drills/{drill.pk}/acknowledge/", headers={"HX-Request": "true"})
    assert posted.status_code == 200
    assert (
        posted.text.lstrip().startswith('<div id="drill-console">') and "<html" not in posted.text
    )
    polled = client.get(
        f"/drills/{drill.pk}/", headers={"HX-Request": "true", "HX-Target": "drill-live"}
    )
    assert polled.text.lstrip().startswith('<section id="drill-live"')
    assert 'hx-trigger="every 3s"' in polled.text
    full = client.get(f"/drills/{drill.pk}/").text
    assert f'href="/drills/{drill.pk}/">Refresh</a>' in full


def test_bad_notes_and_ends_are_named_and_lose_nothing(client_for, drill, trainee):
    tick(drill, 0)
    client = client_for(trainee)
    answer = client.post(f"/drills/{drill.pk}/note/", {"text": "  "}, follow=True)
    assert "The note is empty." in answer.text
    answer = client.post(f"/drills/{drill.pk}/note/", {"text": "a\x00b"}, follow=True)
    assert "NUL" in answer.text
    answer = client.post(
        f"/drills/{drill.pk}/end/", {"choice": "escalate", "text": ""}, follow=True
    )
    assert "The end note is empty." in answer.text
    drill.refresh_from_db()
    assert drill.state == Drill.State.RUNNING
    assert not ResponseEvent.objects.filter(response__drill=drill).exists()


def test_the_game_master_releases_an_inject_once(client_for, drill, lead, trainee):
    tick(drill, 0)
    step = drill.scenario.steps.get(kind="inject")
    client = client_for(lead)
    client.post(f"/drills/{drill.pk}/inject/{step.pk}/")
    client.post(f"/drills/{drill.pk}/inject/{step.pk}/")
    tick(drill, 61)  # its offset passes: already played by hand
    events = ResponseEvent.objects.filter(kind="inject_released")
    assert [(e.text, e.by) for e in events] == [(step.text, lead)]
    assert "step at 03:00" in client_for(trainee).get(f"/drills/{drill.pk}/").text
    # The trainee cannot release one.
    other = client_for(trainee).post(f"/drills/{drill.pk}/inject/{step.pk}/", follow=True)
    assert "Only the game master" in other.text


# -- grading --


def test_grading_computes_ack_and_runbook_and_needs_a_reason_for_not_yet(
    client_for, drill, lead, trainee, runbook
):
    tick(drill, 0)
    page = DrillPage.objects.get(drill=drill)
    running.acknowledge(drill=drill, by=trainee, now=page.fired_at + timedelta(minutes=6))
    running.open_runbook(drill=drill, by=trainee, runbook=runbook)
    client = client_for(lead)
    assert (
        client.post(f"/drills/{drill.pk}/grade/", {"result": "pass"}, follow=True).status_code
        == 200
    )
    drill.refresh_from_db()
    assert drill.state == Drill.State.RUNNING  # not graded before it ends
    client.post(f"/drills/{drill.pk}/finish/")
    client.post(f"/drills/{drill.pk}/finish/")  # twice: one ended event
    assert ResponseEvent.objects.filter(kind="ended").count() == 1
    answer = client.post(f"/drills/{drill.pk}/grade/", {"result": "not_yet"}, follow=True)
    assert "The reason is empty." in answer.text
    client.post(
        f"/drills/{drill.pk}/grade/",
        {"result": "not_yet", "reason": "Acknowledged after 6 min", "root_cause_named": "on"},
    )
    client.post(f"/drills/{drill.pk}/grade/", {"result": "pass"})  # twice: the first stands
    drill.refresh_from_db()
    assert (drill.state, drill.grade, drill.root_cause_named, drill.graded_by) == (
        Drill.State.GRADED,
        "not_yet",
        True,
        lead,
    )
    seen = client_for(trainee).get(f"/drills/{drill.pk}/").text
    assert "over the target" in seen and "Acknowledged after 6 min" in seen
    assert "after 6:00 (target 5:00)" in seen


def test_the_trainee_cannot_grade_their_own_drill(client_for, drill, trainee):
    running.end_response(drill=drill, by=trainee, choice="mitigated")
    client_for(trainee).post(f"/drills/{drill.pk}/grade/", {"result": "pass"})
    drill.refresh_from_db()
    assert drill.state == Drill.State.ENDED


HEARD: list[Drill] = []


def remember_grade(drill: Drill) -> None:
    HEARD.append(drill)


def test_listeners_hear_each_grade_once(drill, lead, trainee):
    HEARD.clear()
    running.on_drill_graded(remember_grade)
    running.on_drill_graded(remember_grade)  # registering twice still calls it once
    running.end_response(drill=drill, by=trainee, choice="mitigated")
    running.grade(drill=drill, by=lead, result="pass")
    running.grade(drill=drill, by=lead, result="pass")
    assert [(d.pk, d.grade, d.graded_by_id) for d in HEARD] == [(drill.pk, "pass", lead.pk)]


# -- lists and query counts --


def test_drills_list_shows_mine_and_the_ones_i_run(client_for, drill, trainee, lead):
    assert drill.scenario.title in client_for(trainee).get("/drills/").text
    page = client_for(lead).get("/drills/").text
    assert "Drills I run" in page and drill.scenario.title in page


def test_the_console_reads_a_fixed_number_of_queries(
    client_for, drill, lead, trainee, django_assert_max_num_queries
):
    for seconds in (0, 61, 130):
        tick(drill, seconds)
    client = client_for(lead)
    with django_assert_max_num_queries(14):
        assert client.get(f"/drills/{drill.pk}/").status_code == 200


def test_the_poll_brings_the_acknowledge_button_when_the_first_page_fires(
    client_for, scenario, trainee, lead
):
    at = timezone.now() + timedelta(minutes=10)
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead, at=at)
    client = client_for(trainee)
    waiting = client.get(f"/drills/{drill.pk}/").text
    assert "drill-ack" not in waiting and 'hx-trigger="every 5s"' in waiting
    replay.replay(now=at)
    polled = client.get(
        f"/drills/{drill.pk}/", headers={"HX-Request": "true", "HX-Target": "drill-live"}
    )
    assert 'class="button button--primary drill-ack"' in polled.text
    assert f'action="/drills/{drill.pk}/acknowledge/"' in polled.text


def test_lists_read_a_fixed_number_of_queries(
    client_for, scenario, trainee, lead, django_assert_max_num_queries
):
    for _ in range(5):
        running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)
    client = client_for(lead)
    with django_assert_max_num_queries(8):
        assert client.get("/drills/").text.count("drill-row") == 5
    with django_assert_max_num_queries(8):
        assert client.get("/teams/payments/scenarios/").status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(f"/teams/payments/scenarios/{scenario.pk}/").status_code == 200


def test_recording_from_a_past_shift_lists_the_alerts_of_that_shift(
    client_for, lead, primary, trainee, team, other_team
):
    inside = occurrence(team, None, 30, name="DuringTheShift")
    occurrence(team, None, 300, name="AfterTheShift")
    shift = ShadowShift.objects.create(
        team=team, trainee=trainee, primary=primary, starts_at=T0, ends_at=T0 + timedelta(hours=2)
    )
    page = client_for(lead).get("/teams/payments/scenarios/record/", {"shift": shift.pk})
    assert f'value="{inside.pk}"' in page.text
    assert "DuringTheShift" in page.text and "AfterTheShift" not in page.text
    # Another team's shift does not set the window.
    elsewhere = ShadowShift.objects.create(
        team=other_team,
        trainee=trainee,
        primary=primary,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
    )
    page = client_for(lead).get("/teams/payments/scenarios/record/", {"shift": elsewhere.pk})
    assert "DuringTheShift" not in page.text


def test_a_drill_nobody_ends_ends_by_itself_after_25_hours(drill):
    assert tick(drill, 25 * 3600 - 1) == 3  # every step, still running
    drill.refresh_from_db()
    assert drill.state == Drill.State.RUNNING
    tick(drill, 25 * 3600 + 1)
    drill.refresh_from_db()
    assert drill.state == Drill.State.ENDED
    ended = ResponseEvent.objects.get(response__drill=drill, kind="ended")
    assert ended.text == "Ended by itself: nobody ended it within 25 hours."
    tick(drill, 26 * 3600)  # once only
    assert ResponseEvent.objects.filter(kind="ended").count() == 1


def test_the_record_page_names_a_bad_inject_and_stores_nothing(client_for, lead, team):
    first = occurrence(team, None, 0)
    response = client_for(lead).post(
        "/teams/payments/scenarios/record/",
        {
            "start": "2026-11-02T11:00",
            "end": "2026-11-02T13:00",
            "occurrence": [str(first.pk)],
            "inject_offset": ["1441"],
            "inject_text": ["Graph: 5xx at 12%"],
            "title": "T",
            "ack_target": "5",
        },
    )
    assert response.status_code == 400
    assert "Inject 1: the offset must be from 0 to 1440 minutes." in response.text
    assert "Graph: 5xx at 12%" in response.text  # kept as typed
    assert not Scenario.objects.exists()
