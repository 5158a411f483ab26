"""Alert sources: a lead creates one in the app (token shown once), revokes it, and
chooses which other teams it may file for; scripts use the command."""

import json
import re
from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.test import Client

from oncall.alerts.models import AlertSource
from oncall.alerts.sources import create_source
from oncall.teams.models import Membership, Team

PAGE = "/teams/payments/alert-sources/"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SITE_URL = "https://oncall.example.com"


def token_in(html: str) -> str:
    return re.search(r"<code data-token>([^<]+)</code>", html).group(1)


def test_a_lead_creates_a_source_and_sees_the_token_once_in_a_pasteable_snippet(
    client_for, lead, team
):
    client = client_for(lead)
    response = client.post(PAGE, {"name": "prod-eu"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]  # the page holds a token
    html = response.content.decode()
    token = token_in(html)
    source = AlertSource.objects.get()
    assert (source.team, source.name, source.created_by) == (team, "prod-eu", lead)
    assert AlertSource.for_token(token) == source
    snippet = re.search(r"<code data-snippet>([^<]+)</code>", html).group(1)
    config = yaml.safe_load(snippet.replace("&quot;", '"'))
    webhook = config["receivers"][0]["webhook_configs"][0]
    assert webhook["url"] == "https://oncall.example.com/integrations/alertmanager/"
    assert webhook["http_config"]["authorization"] == {"type": "Bearer", "credentials": token}
    assert webhook["send_resolved"] is True
    route = config["route"]["routes"][0]
    assert (route["receiver"], route["continue"]) == (config["receivers"][0]["name"], True)
    assert route["group_by"] == ["alertname"]


def test_the_token_works_until_revoked(client_for, lead, team):
    client = client_for(lead)
    token = token_in(client.post(PAGE, {"name": "prod"}).content.decode())
    post = {"data": '{"version": "4", "alerts": []}', "content_type": "application/json",
            "headers": {"Authorization": f"Bearer {token}"}}  # fmt: skip
    assert client.post("/integrations/alertmanager/", **post).status_code == 200
    source = AlertSource.objects.get()
    response = client.post(f"{PAGE}{source.pk}/revoke/")
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.revoked_by == lead
    assert client.post("/integrations/alertmanager/", **post).status_code == 401
    assert "revoked" in client.get(PAGE).content.decode()


def test_a_second_active_source_of_the_same_name_is_a_form_error(client_for, lead):
    client = client_for(lead)
    client.post(PAGE, {"name": "prod"})
    response = client.post(PAGE, {"name": "prod"})
    assert response.status_code == 422
    assert "already has a source called prod" in response.content.decode()
    assert AlertSource.objects.count() == 1
    assert client.post(PAGE, {"name": ""}).status_code == 422


def test_only_leads_of_the_team_and_staff_manage_sources(
    client_for, team, trainee, outsider, staff
):
    assert client_for(trainee).get(PAGE).status_code == 404
    assert client_for(trainee).post(PAGE, {"name": "x"}).status_code == 404
    assert client_for(outsider).get(PAGE).status_code == 404
    assert client_for(staff).get(PAGE).status_code == 200
    assert AlertSource.objects.count() == 0


def test_another_teams_lead_cannot_revoke(client_for, lead, outsider, team):
    source = AlertSource(team=team, name="prod")
    source.set_new_token()
    source.save()
    response = client_for(outsider).post(f"/teams/platform/alert-sources/{source.pk}/revoke/")
    assert response.status_code == 404
    source.refresh_from_db()
    assert source.revoked_at is None


def test_the_page_posts_need_a_csrf_token(team, lead):
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    assert client.post(PAGE, {"name": "prod"}).status_code == 403


def test_the_command_prints_the_url_token_and_snippet_once(team):
    out = StringIO()
    call_command("create_alert_source", "payments", "--name", "prod-us", stdout=out)
    text = out.getvalue()
    assert "Receiver URL: https://oncall.example.com/integrations/alertmanager/" in text
    token = re.search(r"Token \(shown only this once\): (\S+)", text).group(1)
    assert AlertSource.for_token(token).name == "prod-us"
    assert f"credentials: {token}" in text


def test_the_command_names_a_missing_team_and_a_taken_name(team):
    with pytest.raises(CommandError, match="no team has the slug 'nope' \\(teams: payments\\)"):
        call_command("create_alert_source", "nope", "--name", "prod")
    call_command("create_alert_source", "payments", "--name", "prod", stdout=StringIO())
    with pytest.raises(CommandError, match="already has an active source called 'prod'"):
        call_command("create_alert_source", "payments", "--name", "prod")


def test_staff_create_a_source_in_the_admin_and_see_the_token_once(client_for, staff, team):
    client = client_for(staff)
    response = client.post(
        "/admin/alerts/alertsource/add/", {"team": team.pk, "name": "from-admin"}, follow=True
    )
    assert response.status_code == 200
    html = response.content.decode()
    token = re.search(r"(oncall_am_[0-9a-f]+_[A-Za-z0-9_-]+)", html).group(1)
    assert AlertSource.for_token(token).created_by == staff


# --- the other teams a source may file for ---------------------------------------


@pytest.fixture
def source(team):
    return create_source(team=team, name="prod")[0]


def teams_field(source) -> str:
    return f"source-{source.pk}-teams"


def test_a_lead_of_both_teams_lets_a_source_file_for_the_other(
    client_for, lead, team, other_team, source
):
    Membership.objects.create(user=lead, team=other_team, role=Membership.Role.LEAD)
    client = client_for(lead)
    page = client.get(PAGE).content.decode()
    assert f'name="{teams_field(source)}" value="{other_team.pk}"' in page
    response = client.post(
        f"{PAGE}{source.pk}/teams/", {teams_field(source): [other_team.pk]}, follow=True
    )
    assert response.redirect_chain == [(PAGE, 302)]
    assert list(source.other_teams.all()) == [other_team]
    page = response.content.decode()
    assert "prod files alerts for Payments and, by team label, for Platform." in page
    assert "Files alerts for Payments, and by team label for Platform." in page


def test_a_lead_cannot_let_a_source_file_for_a_team_they_do_not_lead(
    client_for, lead, other_team, source
):
    client = client_for(lead)
    assert f'value="{other_team.pk}"' not in client.get(PAGE).content.decode()
    response = client.post(f"{PAGE}{source.pk}/teams/", {teams_field(source): [other_team.pk]})
    assert response.status_code == 422
    assert "Only a lead of a team can let a source file alerts for it." in response.content.decode()
    assert list(source.other_teams.all()) == []


def test_a_lead_of_the_source_team_takes_off_a_team_they_do_not_lead(
    client_for, lead, other_team, source
):
    source.other_teams.add(other_team)
    client = client_for(lead)
    page = client.get(PAGE).content.decode()
    assert f'value="{other_team.pk}"' in page and "checked" in page
    response = client.post(f"{PAGE}{source.pk}/teams/", {})
    assert response.status_code == 302
    assert list(source.other_teams.all()) == []


def test_the_other_teams_lead_sees_the_source_and_withdraws_it(
    client_for, outsider, other_team, source
):
    source.other_teams.add(other_team)
    client = client_for(outsider)  # a lead of platform only
    page = client.get("/teams/platform/alert-sources/").content.decode()
    assert "Payments / prod" in page
    # Not a lead of payments: its source's teams are not theirs to set.
    assert client.post(f"{PAGE}{source.pk}/teams/", {}).status_code == 404
    assert client.post(f"/teams/payments/alert-sources/{source.pk}/withdraw/").status_code == 404
    response = client.post(f"/teams/platform/alert-sources/{source.pk}/withdraw/")
    assert response.status_code == 302
    assert list(source.other_teams.all()) == []
    # Nothing left to withdraw.
    assert client.post(f"/teams/platform/alert-sources/{source.pk}/withdraw/").status_code == 404


def test_members_cannot_set_a_sources_teams(client_for, trainee, other_team, source):
    client = client_for(trainee)
    assert client.post(f"{PAGE}{source.pk}/teams/", {}).status_code == 404
    assert client.get(f"{PAGE}{source.pk}/teams/").status_code in (404, 405)


def test_the_teams_post_needs_a_csrf_token(lead, source):
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    assert client.post(f"{PAGE}{source.pk}/teams/", {}).status_code == 403


def test_the_page_reads_many_sources_in_bounded_queries(
    client_for, staff, team, django_assert_max_num_queries
):
    others = [Team.objects.create(slug=f"team-{i}", name=f"Team {i}") for i in range(6)]
    for i in range(12):
        create_source(team=team, name=f"src-{i}", other_teams=others[: i % 4])[0]
    for other in others[:3]:
        create_source(team=other, name="guest", other_teams=[team])
    client = client_for(staff)
    with django_assert_max_num_queries(10):
        page = client.get(PAGE).content.decode()
    assert page.count('class="choice"') == 12 * 6
    assert "Team 0 / guest" in page


def test_staff_set_the_other_teams_in_the_admin_and_cannot_change_team_or_name(
    client_for, staff, team, other_team, source
):
    client = client_for(staff)
    url = f"/admin/alerts/alertsource/{source.pk}/change/"
    response = client.post(url, {"other_teams": [other_team.pk], "name": "renamed"})
    assert response.status_code == 302
    source.refresh_from_db()
    assert list(source.other_teams.all()) == [other_team]
    assert (source.team, source.name) == (team, "prod")


def test_the_command_sets_the_other_teams(team, other_team):
    out = StringIO()
    call_command(
        "create_alert_source", "payments", "--name", "hub", "--other-team", "platform", stdout=out
    )
    assert "Team labels followed for: platform (any other files under payments)" in out.getvalue()
    source = AlertSource.objects.get(name="hub")
    assert list(source.other_teams.all()) == [other_team]
    with pytest.raises(CommandError, match="no team has the slug 'nope'"):
        call_command("create_alert_source", "payments", "--name", "x", "--other-team", "nope")
    assert not AlertSource.objects.filter(name="x").exists()


def test_a_new_token_keeps_the_source_and_its_firing_alerts(client_for, lead, team):
    client = client_for(lead)
    old = token_in(client.post(PAGE, {"name": "prod"}).content.decode())
    source = AlertSource.objects.get()
    body = json.dumps({"version": "4", "alerts": [{
        "labels": {"alertname": "DiskFull"}, "startsAt": "2026-12-01T10:00:00Z",
        "fingerprint": "d15cf011d15cf011",
    }]})  # fmt: skip

    def post(token):
        return client.post(
            "/integrations/alertmanager/", body, content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip

    assert post(old).status_code == 200
    response = client.post(f"{PAGE}{source.pk}/token/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "“prod” has a new token" in html
    new = token_in(html)
    assert new != old
    assert post(old).status_code == 401
    answer = post(new).json()
    assert (answer["new"], answer["updated"]) == (0, 1)  # the same occurrence, not a second
    assert AlertSource.objects.get() == source
    assert source.occurrences.get().deliveries == 2


def test_only_a_lead_of_the_team_gives_a_source_a_new_token(client_for, trainee, outsider, source):
    for user in (trainee, outsider):
        assert client_for(user).post(f"{PAGE}{source.pk}/token/").status_code == 404
    key = source.key
    source.refresh_from_db()
    assert source.key == key
