"""Drill scenarios in git: ``drills/*.md`` in a runbooks folder, synced with the runbooks.

The sync is the runbooks' own (``sync_folders``); the drills app stores each
file below a ``drills`` folder as a scenario. A bad file is named in the
report and its scenario keeps its previous revision; a recorded scenario's
download reads back to the same scenario.
"""

import hashlib
from pathlib import Path

import pytest

from oncall.drills import files, replay, running
from oncall.drills.models import Drill, DrillPage, Scenario
from oncall.drills.record import store_scenario
from oncall.drills.steps import check_steps
from oncall.runbooks.models import Runbook
from oncall.runbooks.sync import sync_folders

RUNBOOK = """---
title: Payments API errors
team: payments
alerts: [PaymentsApiHighErrorRate]
---

# Payments API errors
"""

SCENARIO = """---
title: Checkout errors after the deploy
team: payments
brief: It is 03:00. Work the pages.
root_cause: The deploy lowered the pool size.
ack_target: 240
expected_runbooks: [payments/errors]
steps:
  - offset: 0
    kind: fired
    alertname: PaymentsApiHighErrorRate
    labels: {severity: critical, service: payments-api}
    annotations: {summary: 5xx above 5%}
    runbook: payments/errors
  - offset: 90
    kind: inject
    text: The error graph steps up at 02:58.
  - offset: 600
    kind: resolved
    alertname: PaymentsApiHighErrorRate
    labels: {severity: critical, service: payments-api}
---

Release the inject if they have not looked at the graph after ten minutes.
"""

BAD_STEP = SCENARIO.replace("  - offset: 90\n", "  - offset: -5\n")


def write(root: Path, relative: str, content: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path, team):
    write(tmp_path, "payments/errors.md", RUNBOOK)
    write(tmp_path, "drills/checkout.md", SCENARIO)
    return tmp_path


def test_a_drill_file_becomes_a_scenario_not_a_runbook(folder, team):
    report = sync_folders([folder])
    assert report.ok, report.errors
    assert report.created == 1  # the runbook
    assert report.drills == {"created": 1, "removed": 0}
    assert "drill scenarios: created 1, updated 0, unchanged 0, removed 0" in report.summary()
    assert list(Runbook.objects.values_list("slug", flat=True)) == ["payments/errors"]
    scenario = Scenario.objects.get()
    assert (scenario.source, scenario.source_path) == ("file", "drills/checkout.md")
    assert scenario.source_revision == hashlib.sha256(SCENARIO.encode()).hexdigest()
    assert scenario.team == team
    assert scenario.title == "Checkout errors after the deploy"
    assert scenario.ack_target == 240
    assert scenario.hidden_notes.startswith("Release the inject")
    steps = list(scenario.steps.order_by("position"))
    assert [(s.kind, s.offset) for s in steps] == [("fired", 0), ("inject", 90), ("resolved", 600)]
    assert steps[0].runbook.slug == "payments/errors"
    assert [r.slug for r in scenario.expected_runbooks.all()] == ["payments/errors"]
    # The same file again: unchanged, nothing rewritten.
    report = sync_folders([folder])
    assert report.drills == {"unchanged": 1, "removed": 0}
    assert Scenario.objects.get().pk == scenario.pk


def test_a_bad_step_is_a_named_bad_file_and_the_previous_revision_stays(folder):
    sync_folders([folder])
    before = Scenario.objects.get()
    steps_before = list(before.steps.values_list("pk", "offset"))
    write(folder, "drills/checkout.md", BAD_STEP)
    write(folder, "drills/other.md", SCENARIO.replace("Checkout errors", "Another outage"))
    report = sync_folders([folder])
    assert report.failed == 1
    assert report.errors == [f"{folder}/drills/checkout.md: step 2: offset -5 is below 0"]
    assert report.drills == {"created": 1, "removed": 0}  # the good file goes on
    after = Scenario.objects.get(source_path="drills/checkout.md")
    assert after.source_revision == before.source_revision
    assert list(after.steps.values_list("pk", "offset")) == steps_before
    # Fixed: the new revision replaces the steps of a scenario without drills.
    write(folder, "drills/checkout.md", SCENARIO.replace("offset: 600", "offset: 700"))
    report = sync_folders([folder])
    assert report.ok and report.drills["updated"] == 1
    after = Scenario.objects.get(source_path="drills/checkout.md")
    assert after.pk == before.pk
    assert list(after.steps.values_list("offset", flat=True)) == [0, 90, 700]


def test_a_scenario_with_drills_keeps_its_steps_for_them(folder, trainee, lead):
    sync_folders([folder])
    scenario = Scenario.objects.get()
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)
    replay.replay(now=drill.started_at)
    page = DrillPage.objects.get(drill=drill)
    write(folder, "drills/checkout.md", SCENARIO.replace("offset: 600", "offset: 700"))
    assert sync_folders([folder]).drills["updated"] == 1
    # The drill's scenario, steps and page are as they were; the file is a new scenario.
    scenario.refresh_from_db()
    assert scenario.source_path == ""
    assert list(scenario.steps.values_list("offset", flat=True)) == [0, 90, 600]
    assert DrillPage.objects.get(pk=page.pk).step.scenario_id == scenario.pk
    synced = Scenario.objects.get(source_path="drills/checkout.md")
    assert synced.pk != scenario.pk
    assert list(synced.steps.values_list("offset", flat=True)) == [0, 90, 700]
    assert Drill.objects.get(pk=drill.pk).scenario_id == scenario.pk


def test_a_removed_file_deletes_its_scenario_unless_it_has_drills(folder, trainee, lead):
    write(folder, "drills/other.md", SCENARIO.replace("Checkout errors", "Another outage"))
    sync_folders([folder])
    drilled = Scenario.objects.get(source_path="drills/other.md")
    running.schedule_drill(scenario=drilled, trainee=trainee, game_master=lead)
    (folder / "drills/checkout.md").unlink()
    (folder / "drills/other.md").unlink()
    write(folder, "drills/third.md", SCENARIO.replace("Checkout errors", "Third"))
    report = sync_folders([folder])
    assert report.drills == {"created": 1, "removed": 2}
    assert not Scenario.objects.filter(title="Checkout errors after the deploy").exists()
    drilled.refresh_from_db()
    assert drilled.source_path == ""  # kept for its drill, out of the sync
    assert set(Scenario.objects.values_list("source_path", flat=True)) == {"", "drills/third.md"}


def test_a_teams_folder_gives_its_team_and_a_file_without_one_is_named(tmp_path, team):
    write(tmp_path, "payments/drills/a.md", SCENARIO.replace("team: payments\n", ""))
    write(tmp_path, "drills/b.md", SCENARIO.replace("team: payments\n", ""))
    write(tmp_path, "drills/c.md", SCENARIO.replace("team: payments", "team: nobody"))
    report = sync_folders([tmp_path])
    assert sorted(report.errors) == [
        f"{tmp_path}/drills/b.md: the file names no team: add team: <slug> to its front matter",
        f"{tmp_path}/drills/c.md: unknown team 'nobody'",
    ]
    assert Scenario.objects.get().source_path == "payments/drills/a.md"
    assert Scenario.objects.get().team == team


def test_a_recorded_scenario_downloads_as_a_file_that_reads_back_the_same(
    client_for, team, lead, folder
):
    sync_folders([folder])
    runbook = Runbook.objects.get(slug="payments/errors")
    specs = check_steps(
        [
            {"kind": "fired", "offset": 0, "alertname": "PaymentsApiHighErrorRate",
             "labels": {"severity": "critical", "instance": "api-1:9090"},
             "annotations": {"summary": "5xx: 12%", "description": "Text with\nlines"},
             "runbook": "payments/errors"},
            {"kind": "inject", "offset": 30, "text": "Line one\nLine two: with a colon"},
            {"kind": "resolved", "offset": 300, "alertname": "PaymentsApiHighErrorRate",
             "labels": {"severity": "critical", "instance": "api-1:9090"}},
        ]
    )  # fmt: skip
    recorded = store_scenario(
        team=team, title="Night of 2 November: «payments»", specs=specs, by=lead,
        brief="Brief", hidden_notes="Notes for the game master.", root_cause="Pool size",
        ack_target=120,
    )  # fmt: skip
    response = client_for(lead).get(f"/teams/payments/scenarios/{recorded.pk}/download/")
    assert response.status_code == 200
    parsed = files.parse(response.content)
    assert (parsed.title, parsed.brief, parsed.root_cause, parsed.ack_target, parsed.team_slug) == (
        recorded.title, "Brief", "Pool size", 120, "payments",
    )  # fmt: skip
    assert parsed.notes == "Notes for the game master."
    assert parsed.expected_runbooks == ["payments/errors"]
    stored = [
        (s.kind, s.offset, s.alertname, s.labels, s.annotations, s.text,
         s.runbook.slug if s.runbook else "")
        for s in recorded.steps.select_related("runbook").order_by("position")
    ]  # fmt: skip
    read = [
        (s.kind, s.offset, s.alertname, s.labels, s.annotations, s.text, s.runbook_slug)
        for s in parsed.steps
    ]
    # A resolved step carries no annotations in the file (the fired one has them).
    assert read == [stored[0], stored[1], (*stored[2][:4], {}, "", "")]
    assert runbook.pk == recorded.steps.get(position=1).runbook_id
    # And the file synced from git is the same scenario again.
    write(folder, "drills/recorded.md", response.content.decode())
    assert sync_folders([folder]).ok
    synced = Scenario.objects.get(source_path="drills/recorded.md")
    assert [
        (s.kind, s.offset, s.alertname, s.labels, s.text) for s in synced.steps.order_by("position")
    ] == [(k, o, a, labels, t) for k, o, a, labels, _an, t, _r in stored]
