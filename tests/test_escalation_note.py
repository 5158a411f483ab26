"""No runbook, still a way forward: the team's escalation note comes first.

Before, an alert no runbook answered got loosely related runbooks and a search
box, and nothing on who to page. Each team now has an escalation note, set by
its leads on the members page and shown first on that page.
"""

import pytest
from django.test import Client

from oncall.runbooks import alert_help
from oncall.teams.models import Team

NOTE = "Page **#payments-oncall**, then the [EM on duty](https://wiki.example.com/em)."


@pytest.fixture
def noted(team):
    team.escalation_note = NOTE
    team.save(update_fields=["escalation_note"])
    return team


def page(client, path: str) -> tuple[int, str]:
    response = client.get(path)
    return response.status_code, response.content.decode()


def test_it_shows_the_teams_note_before_the_suggestions(client_for, trainee, noted):
    status, body = page(client_for(trainee), "/runbooks/alert/KubePodCrashLooping")
    assert status == 404
    assert "<strong>#payments-oncall</strong>" in body
    assert 'href="https://wiki.example.com/em" rel="noopener noreferrer"' in body
    assert body.index("#payments-oncall") < body.index('id="alert-search"')
    assert "Edit the escalation note" not in body  # a member reads it


def test_the_team_a_link_names_comes_alone(client_for, outsider, noted, other_team):
    other_team.escalation_note = "Ask in #platform."
    other_team.save(update_fields=["escalation_note"])
    status, body = page(client_for(outsider), "/runbooks/alert/NoSuchAlert?team=payments")
    assert "#payments-oncall" in body and "#platform" not in body
    status, body = page(client_for(outsider), "/runbooks/alert/NoSuchAlert")
    assert "#platform" in body and "#payments-oncall" not in body


def test_a_lead_is_shown_where_to_write_a_missing_note(client_for, lead, trainee, team):
    _status, body = page(client_for(lead), "/runbooks/alert/NoSuchAlert")
    assert "Payments has no escalation note yet." in body
    assert 'href="/teams/payments/members/#escalation"' in body
    _status, body = page(client_for(trainee), "/runbooks/alert/NoSuchAlert")
    assert "None of your teams has written who to page yet" in body


def test_the_note_is_sanitised(client_for, trainee, team):
    team.escalation_note = (
        '<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror="alert(1)">'
    )
    team.save(update_fields=["escalation_note"])
    _status, body = page(client_for(trainee), "/runbooks/alert/NoSuchAlert")
    note = body[body.index('class="prose escalation__note"') :]
    note = note[: note.index("</div>")]
    assert "<script" not in note and "javascript:" not in note and "onerror" not in note
    assert "<img" not in note


def test_a_note_too_deep_to_render_is_shown_as_text(client_for, trainee, team):
    team.escalation_note = ">" * 400 + " call Lena"
    team.save(update_fields=["escalation_note"])
    _status, body = page(client_for(trainee), "/runbooks/alert/NoSuchAlert")
    assert "call Lena" in body and "<blockquote>" not in body


def test_the_page_stays_small(client_for, trainee, noted, django_assert_max_num_queries):
    client = client_for(trainee)
    client.get("/runbooks/alert/NoSuchAlert")  # the help is worked out and kept
    with django_assert_max_num_queries(8):
        status, _body = page(client, "/runbooks/alert/NoSuchAlert")
    assert status == 404


# -- leads set it on the members page ----------------------------------------------------------


def test_a_lead_sets_the_note_and_the_delay(client_for, lead, team):
    response = client_for(lead).post(
        "/teams/payments/settings/", {"escalation_note": NOTE, "escalation_delay": "10"}
    )
    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.escalation_note, team.escalation_delay) == (NOTE, 10)
    _status, body = page(client_for(lead), "/teams/payments/members/")
    assert "#payments-oncall" in body  # kept in the form to edit


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"escalation_note": "x" * 5001, "escalation_delay": "5"}, "at most 5000 characters"),
        ({"escalation_note": "ok", "escalation_delay": "0"}, "greater than or equal to 1"),
        ({"escalation_note": "ok", "escalation_delay": "121"}, "less than or equal to 120"),
        ({"escalation_note": "a\x00b", "escalation_delay": "5"}, "Null characters are not allowed"),
    ],
)
def test_bad_settings_are_explained_and_nothing_is_saved(client_for, lead, team, data, error):
    response = client_for(lead).post("/teams/payments/settings/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    team.refresh_from_db()
    assert (team.escalation_note, team.escalation_delay) == ("", 5)


def test_only_leads_set_it_and_only_by_post_with_csrf(client_for, trainee, outsider, lead, team):
    data = {"escalation_note": "mine", "escalation_delay": "5"}
    assert client_for(trainee).post("/teams/payments/settings/", data).status_code == 404
    assert client_for(outsider).post("/teams/payments/settings/", data).status_code == 404
    assert client_for(lead).get("/teams/payments/settings/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(lead)
    assert strict.post("/teams/payments/settings/", data).status_code == 403
    assert Team.objects.get(pk=team.pk).escalation_note == ""


def test_the_rendered_note_is_kept_per_text(team):
    first = alert_help.escalation_html("Call *Lena*.")
    assert first == alert_help.escalation_html("Call *Lena*.")
    assert "<em>Lena</em>" in first
    assert alert_help.escalation_html("  ") == ""
