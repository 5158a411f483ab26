"""My onboarding, the leads' dashboard and the lead actions: who may do what, htmx and plain."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from oncall.readiness.models import (
    Activity,
    ChecklistTemplate,
    ItemProgress,
    Kind,
    Onboarding,
    TemplateItem,
)
from oncall.readiness.progress import tick_item
from oncall.readiness.reconcile import reconcile_all
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership
from tests.conftest import make_user
from tests.test_readiness_support import (
    done_shifts,
    item,
    make_runbook,
    make_template,
    new_revision,
    read_runbook,
    start,
)


@pytest.fixture
def runbook(team):
    return make_runbook(team, title="Payments API error rate high")


@pytest.fixture
def onboarding(team, trainee, lead, runbook):
    return start(trainee, team, make_template(team, runbook=runbook), lead)


@pytest.fixture
def other_trainee(django_user_model, team):
    user = make_user(django_user_model, "other-trainee")
    Membership.objects.create(user=user, team=team)
    return user


def url(name, *args):
    return reverse(f"readiness:{name}", args=args)


# -- who sees what -----------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_sign_in(client, onboarding, team):
    for path in [
        "/",
        url("onboarding", onboarding.pk),
        url("dashboard", team.slug),
        url("dashboard_csv", team.slug),
        url("templates"),
    ]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/"), path


def test_it_shows_a_trainee_their_own_onboarding_at_home(client_for, trainee, onboarding):
    response = client_for(trainee).get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "My onboarding" in page
    assert '<progress id="readiness-progress" value="0" max="100"' in page
    assert "Next up" in page
    assert "Escalation policy" in page


def test_it_shows_a_trainee_only_their_own_onboarding(
    client_for, other_trainee, onboarding, team, lead
):
    theirs = start(other_trainee, team, make_template(team), lead)
    client = client_for(onboarding.engineer)
    assert client.get(url("onboarding", theirs.pk)).status_code == 404
    assert client.get(url("onboarding", onboarding.pk)).status_code == 200
    escalation = item(theirs, "Escalation policy")
    response = client.post(url("item", theirs.pk, escalation.pk), {"action": "tick"})
    assert response.status_code == 404
    assert item(theirs, "Escalation policy").done_at is None


def test_it_shows_a_lead_their_teams_onboardings_and_hides_other_teams(
    client_for, lead, outsider, onboarding, other_team, django_user_model
):
    assert client_for(lead).get(url("onboarding", onboarding.pk)).status_code == 200
    assert client_for(lead).get(url("dashboard", onboarding.team.slug)).status_code == 200
    # The lead of another team gets 404 for this team's pages, and vice versa.
    client = client_for(outsider)
    assert client.get(url("onboarding", onboarding.pk)).status_code == 404
    assert client.get(url("dashboard", onboarding.team.slug)).status_code == 404
    assert client.get(url("dashboard_csv", onboarding.team.slug)).status_code == 404
    platform_trainee = make_user(django_user_model, "platform-trainee")
    Membership.objects.create(user=platform_trainee, team=other_team)
    theirs = start(platform_trainee, other_team, make_template(other_team), outsider)
    assert client_for(lead).get(url("onboarding", theirs.pk)).status_code == 404
    assert client_for(lead).get(url("dashboard", other_team.slug)).status_code == 404


def test_it_lets_staff_see_every_team(client_for, staff, onboarding, team):
    assert client_for(staff).get(url("dashboard", team.slug)).status_code == 200
    assert client_for(staff).get(url("onboarding", onboarding.pk)).status_code == 200


def test_it_does_not_let_a_trainee_sign_off_clear_reopen_or_see_the_dashboard(
    client_for, trainee, onboarding, team
):
    client = client_for(trainee)
    escalation = item(onboarding, "Escalation policy")
    tick_item(item=escalation, by=trainee)
    assert client.post(url("sign_off", onboarding.pk, escalation.pk)).status_code == 404
    assert client.post(url("clear", onboarding.pk)).status_code == 404
    assert client.post(url("reopen", onboarding.pk)).status_code == 404
    assert client.get(url("dashboard", team.slug)).status_code == 404
    assert client.get(url("start", team.slug)).status_code == 404
    assert client.get(url("templates")).status_code == 404
    assert item(onboarding, "Escalation policy").signed_off_at is None
    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.IN_PROGRESS


def test_it_sends_a_lead_from_home_to_their_teams_dashboard(client_for, lead, team):
    response = client_for(lead).get("/")
    assert response.status_code == 302
    assert response["Location"] == url("dashboard", team.slug)


def test_it_links_a_lead_to_their_own_onboarding_from_the_dashboard(client_for, lead, team):
    own = start(lead, team, make_template(team), lead)
    response = client_for(lead).get(url("dashboard", team.slug))
    assert own.get_absolute_url() in response.content.decode()


def test_it_welcomes_someone_with_no_onboarding_and_names_who_to_ask(client_for, primary, lead):
    response = client_for(primary).get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Welcome to oncall" in page
    assert "lead, lead of Payments" in page
    assert "mailto:lead@example.com" in page


# -- ticking: htmx and plain -------------------------------------------------------------


def test_it_ticks_an_item_with_htmx_and_answers_with_the_checklist(client_for, trainee, onboarding):
    laptop = item(onboarding, "Laptop and VPN")
    response = client_for(trainee).post(
        url("item", onboarding.pk, laptop.pk),
        {"action": "tick", "note": "VPN works from the train", "next": "/"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="checklist"')
    assert "<html" not in page
    # One of five required items complete (laptop, escalation, the runbook, two shift items).
    assert '<progress id="readiness-progress" value="20" max="100"' in page
    laptop.refresh_from_db()
    assert laptop.done_at is not None and laptop.done_by == trainee
    assert laptop.note == "VPN works from the train"
    activity = onboarding.activities.get(verb=Activity.Verb.TICK)
    assert (activity.actor, activity.item_id) == (trainee, laptop.pk)


def test_it_ticks_with_a_plain_form_and_redirects_back(client_for, trainee, onboarding):
    laptop = item(onboarding, "Laptop and VPN")
    response = client_for(trainee).post(
        url("item", onboarding.pk, laptop.pk), {"action": "tick", "next": "/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert item(onboarding, "Laptop and VPN").done_at is not None


def test_it_never_redirects_off_site(client_for, trainee, onboarding):
    laptop = item(onboarding, "Laptop and VPN")
    response = client_for(trainee).post(
        url("item", onboarding.pk, laptop.pk),
        {"action": "tick", "next": "https://evil.example/"},
    )
    assert response["Location"] == onboarding.get_absolute_url()


def test_it_unticks_and_saves_a_note(client_for, trainee, onboarding):
    laptop = item(onboarding, "Laptop and VPN")
    client = client_for(trainee)
    client.post(url("item", onboarding.pk, laptop.pk), {"action": "tick"})
    client.post(url("item", onboarding.pk, laptop.pk), {"action": "untick"})
    assert item(onboarding, "Laptop and VPN").done_at is None
    client.post(url("item", onboarding.pk, laptop.pk), {"action": "note", "note": "Waiting on IT"})
    laptop = item(onboarding, "Laptop and VPN")
    assert laptop.note == "Waiting on IT" and laptop.done_at is None
    verbs = list(onboarding.activities.order_by("at", "id").values_list("verb", flat=True))
    assert verbs == ["start", "tick", "untick", "note"]


def test_it_says_who_an_item_waits_for(client_for, trainee, onboarding):
    tick_item(item=item(onboarding, "Escalation policy"), by=trainee)
    page = client_for(trainee).get("/").content.decode()
    assert "waiting for lead’s sign-off" in page


def test_it_fills_shadow_items_from_done_shifts(client_for, trainee, primary, onboarding, team):
    done_shifts(team, trainee, primary, n=2)
    page = client_for(trainee).get("/").content.decode()
    assert "2 of 3 confirmed" in page
    assert "shadow shifts 2/3" in page


# -- lead actions ------------------------------------------------------------------------


def test_it_lets_a_lead_sign_off_with_htmx(client_for, trainee, lead, onboarding):
    escalation = item(onboarding, "Escalation policy")
    tick_item(item=escalation, by=trainee)
    response = client_for(lead).post(
        url("sign_off", onboarding.pk, escalation.pk),
        {"next": onboarding.get_absolute_url()},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "signed off by lead" in response.content.decode()
    escalation.refresh_from_db()
    assert escalation.signed_off_by == lead and escalation.signed_off_at is not None


def test_it_clears_only_a_ready_engineer(client_for, trainee, primary, lead, onboarding, team):
    client = client_for(lead)
    response = client.post(url("clear", onboarding.pk))
    assert response.status_code == 302
    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.IN_PROGRESS
    page = client.get(onboarding.get_absolute_url()).content.decode()
    assert "Not ready yet" in page
    assert 'id="clear-button"' not in page

    done_shifts(team, trainee, primary, n=3)
    done_shifts(team, trainee, primary, kind=ShadowShift.Kind.REVERSE_SHADOW, n=2)
    for title in ["Laptop and VPN", "Escalation policy"]:
        tick_item(item=item(onboarding, title), by=trainee)
    read_runbook(trainee, item(onboarding, "Payments API error rate high").runbook)
    client.post(url("sign_off", onboarding.pk, item(onboarding, "Escalation policy").pk))
    assert 'id="clear-button"' in client.get(onboarding.get_absolute_url()).content.decode()

    client.post(url("clear", onboarding.pk), {"note": "Welcome to the rotation"})

    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.CLEARED
    assert onboarding.cleared_by == lead
    assert onboarding.activities.get(verb=Activity.Verb.CLEAR).note == "Welcome to the rotation"
    page = client.get(onboarding.get_absolute_url()).content.decode()
    assert "Cleared for on-call by lead" in page

    client.post(url("reopen", onboarding.pk))
    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.READY
    assert onboarding.cleared_at is None


def test_it_starts_an_onboarding_from_the_form(client_for, lead, trainee, primary, team):
    template = make_template(team)
    client = client_for(lead)
    assert client.get(url("start", team.slug)).status_code == 200
    target = (timezone.localdate() + timedelta(days=30)).isoformat()
    response = client.post(
        url("start", team.slug),
        {
            "engineer": trainee.pk,
            "template": template.pk,
            "mentor": primary.pk,
            "target_date": target,
        },
    )
    onboarding = Onboarding.objects.get(engineer=trainee)
    assert response["Location"] == onboarding.get_absolute_url()
    assert (onboarding.mentor, onboarding.lead) == (primary, lead)
    assert onboarding.target_date.isoformat() == target
    assert onboarding.items.count() == template.items.count()


def test_it_shows_start_form_errors_next_to_the_fields(client_for, lead, trainee, team, outsider):
    template = make_template(team)
    start(trainee, team, template, lead)
    response = client_for(lead).post(
        url("start", team.slug),
        {"engineer": trainee.pk, "template": template.pk, "mentor": trainee.pk},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "already has an onboarding in progress" in page
    assert "Pick someone other than the engineer" in page
    # Someone outside the team is not a choice.
    response = client_for(lead).post(
        url("start", team.slug), {"engineer": outsider.pk, "template": template.pk}
    )
    assert "Select a valid choice" in response.content.decode()


# -- reading runbooks --------------------------------------------------------------------


def test_it_marks_a_runbook_read_from_the_runbook_page(client_for, trainee, onboarding, runbook):
    client = client_for(trainee)
    page = client.get(runbook.get_absolute_url()).content.decode()
    assert "Mark as read (revision 1)" in page
    assert url("mark_read", runbook.pk) in page

    proof = re.search(r'name="opened" value="([^"]+)"', page).group(1)
    response = client.post(
        url("mark_read", runbook.pk), {"next": runbook.get_absolute_url(), "opened": proof}
    )

    assert response["Location"] == runbook.get_absolute_url()
    read = item(onboarding, runbook.title)
    assert read.revision_read_id == runbook.current_revision_id
    page = client.get(runbook.get_absolute_url()).content.decode()
    assert "You read revision 1, the current one." in page


def test_it_shows_the_runbook_card_only_to_someone_with_it_on_their_checklist(
    client_for, primary, runbook, onboarding
):
    page = client_for(primary).get(runbook.get_absolute_url()).content.decode()
    assert "Mark as read" not in page
    assert client_for(primary).post(url("mark_read", runbook.pk)).status_code == 404


def test_it_reopens_a_changed_runbook_with_a_link_to_the_diff(
    client_for, trainee, onboarding, runbook
):
    read_runbook(trainee, runbook)
    new_revision(runbook, "# Second\n\nNew step.\n")
    client = client_for(trainee)

    page = client.get("/").content.decode()

    diff = reverse("runbooks:diff", args=[runbook.slug]) + "?from=1&amp;to=2"
    assert "changed since you read it" in page
    assert diff in page
    # Reading happens on the runbook's page: the checklist sends the trainee there.
    assert "Open and read" in page and "Mark as read" not in page
    assert onboarding.activities.filter(verb=Activity.Verb.REREAD_NEEDED).count() == 1
    runbook_page = client.get(runbook.get_absolute_url()).content.decode()
    assert "You read revision 1; it is now revision 2." in runbook_page
    assert diff in runbook_page
    assert "Mark as read (revision 2)" in runbook_page


# -- the dashboard -----------------------------------------------------------------------


def test_it_shows_each_onboarding_on_the_dashboard(
    client_for, lead, trainee, other_trainee, primary, onboarding, team
):
    theirs = start(other_trainee, team, make_template(team), lead)
    theirs.target_date = timezone.localdate() - timedelta(days=2)
    theirs.save(update_fields=["target_date"])
    Onboarding.objects.filter(pk=theirs.pk).update(
        last_activity_at=timezone.now() - timedelta(days=8)
    )
    done_shifts(team, trainee, primary, n=2)

    response = client_for(lead).get(url("dashboard", team.slug))

    page = response.content.decode()
    assert page.count('<progress value="') == 2
    assert "2/3" in page
    assert "stalled" in page
    assert "overdue" in page
    assert '<svg class="chart"' in page
    assert 'role="img"' in page


def test_it_sorts_the_dashboard(client_for, lead, team, django_user_model):
    template = make_template(team)
    for name in ["carol", "alice", "bob"]:
        user = make_user(django_user_model, name)
        Membership.objects.create(user=user, team=team)
        start(user, team, template, lead)
    page = client_for(lead).get(url("dashboard", team.slug) + "?sort=-name").content.decode()
    assert page.index(">carol<") < page.index(">bob<") < page.index(">alice<")
    assert 'aria-sort="descending"' in page


def test_it_exports_the_dashboard_as_csv(client_for, lead, trainee, onboarding, team):
    tick_item(item=item(onboarding, "Laptop and VPN"), by=trainee)
    trainee.first_name, trainee.last_name = "Aiko", "Sato"
    trainee.save()
    # Started at 23:30 UTC, which is the next morning in Tokyo, the team's zone.
    Onboarding.objects.filter(pk=onboarding.pk).update(
        started_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    )
    response = client_for(lead).get(url("dashboard_csv", team.slug))
    assert response["Content-Type"].startswith("text/csv")
    assert response["Cache-Control"] == "no-store"
    # UTF-8 with a byte-order mark, so Excel does not open names as mojibake.
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 1
    assert (rows[0]["engineer"], rows[0]["username"]) == ("Aiko Sato", "trainee")
    assert rows[0]["started"] == "2026-12-01"
    assert rows[0]["state"] == "in_progress"
    assert rows[0]["required_done"] == "1"
    assert rows[0]["shadow_required"] == "3"
    assert "3 more shadow shifts (0 of 3)" in rows[0]["missing"]


def test_it_reconciles_with_the_change_and_never_on_a_dashboard_view(
    client_for, lead, trainee, primary, onboarding, team, runbook
):
    done_shifts(team, trainee, primary, n=3)
    done_shifts(team, trainee, primary, kind=ShadowShift.Kind.REVERSE_SHADOW, n=2)
    for title in ["Laptop and VPN", "Escalation policy"]:
        tick_item(item=item(onboarding, title), by=trainee)
    read_runbook(trainee, runbook)
    escalation = item(onboarding, "Escalation policy")
    client = client_for(lead)
    client.post(url("sign_off", onboarding.pk, escalation.pk))
    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.READY
    # A new revision of a runbook read re-opens the onboarding in the sync's transaction.
    new_revision(runbook, "# Changed\n")
    onboarding.refresh_from_db()
    assert (onboarding.state, onboarding.ready_at) == (Onboarding.State.IN_PROGRESS, None)
    # A page only reads: even a stored state knocked out of line stays as it is.
    Onboarding.objects.filter(pk=onboarding.pk).update(state=Onboarding.State.READY)
    page = client.get(url("dashboard", team.slug)).content.decode()
    client.get(onboarding.get_absolute_url())
    client_for(trainee).get("/")
    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.READY
    assert "in progress" in page  # the page shows what the gate says
    # The periodic safety net puts it right.
    reconcile_all()
    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.IN_PROGRESS


def test_it_draws_the_dashboard_in_a_fixed_number_of_queries(
    client_for, lead, team, django_user_model, django_assert_max_num_queries, runbook
):
    """200 onboardings of 40 items each: the page's queries do not grow with the rows."""
    template = ChecklistTemplate.objects.create(team=team, name="Forty items")
    kinds = [Kind.TASK, Kind.ACCESS_CHECK, Kind.DRILL, Kind.READ_RUNBOOK, Kind.SHADOW_SHIFT]
    TemplateItem.objects.bulk_create(
        TemplateItem(
            template=template,
            section=f"Section {n // 10}",
            title=f"Item {n}",
            kind=kinds[n % len(kinds)],
            runbook=runbook if kinds[n % len(kinds)] == Kind.READ_RUNBOOK else None,
            needs_signoff=n % 7 == 0,
            order=n,
        )
        for n in range(40)
    )
    template_items = list(template.items.all())
    users = django_user_model.objects.bulk_create(
        django_user_model(username=f"engineer{n:03}") for n in range(200)
    )
    Membership.objects.bulk_create(Membership(user=u, team=team) for u in users)
    onboardings = Onboarding.objects.bulk_create(
        Onboarding(engineer=u, team=team, template=template, lead=lead) for u in users
    )
    now = timezone.now()
    ItemProgress.objects.bulk_create(
        ItemProgress(
            onboarding=o,
            template_item=t,
            section=t.section,
            title=t.title,
            kind=t.kind,
            runbook_id=t.runbook_id,
            needs_signoff=t.needs_signoff,
            order=t.order,
            done_at=now if (i + t.order) % 3 == 0 else None,
            revision_read_id=runbook.current_revision_id if (i + t.order) % 2 == 0 else None,
        )
        for i, o in enumerate(onboardings)
        for t in template_items
    )
    client = client_for(lead)

    with django_assert_max_num_queries(10):
        response = client.get(url("dashboard", team.slug))

    assert response.status_code == 200
    assert response.content.decode().count('<progress value="') == 200
    # Second look: states were brought in line once, the count holds.
    with django_assert_max_num_queries(10):
        client.get(url("dashboard", team.slug) + "?sort=progress")


# -- templates ---------------------------------------------------------------------------


def test_it_lets_a_lead_create_and_edit_a_template_in_the_app(client_for, lead, team, runbook):
    client = client_for(lead)
    response = client.post(
        url("template_create"), {"name": "Night shift readiness", "team": team.pk}
    )
    template = ChecklistTemplate.objects.get(name="Night shift readiness")
    assert response["Location"] == url("template_edit", template.pk)
    assert template.created_by == lead

    response = client.post(
        url("template_item_create", template.pk),
        {
            "section": "__new__",
            "new_section": "Knowledge",
            "title": "Read the error-rate runbook",
            "kind": Kind.READ_RUNBOOK,
            "count": 1,
            "required": "on",
        },
    )
    assert response.status_code == 422
    assert "Pick the runbook to read." in response.content.decode()

    client.post(
        url("template_item_create", template.pk),
        {
            "section": "__new__",
            "new_section": "Knowledge",
            "title": "Read the error-rate runbook",
            "kind": Kind.READ_RUNBOOK,
            "runbook": runbook.pk,
            "count": 1,
            "required": "on",
        },
    )
    added = template.items.get()
    assert (added.runbook, added.section) == (runbook, "Knowledge")

    client.post(
        url("template_item_edit", template.pk, added.pk),
        {
            "section": "Knowledge",
            "title": "Read it twice",
            "kind": Kind.READ_RUNBOOK,
            "runbook": runbook.pk,
            "count": 5,  # ignored: a count is for shift items
        },
    )
    added.refresh_from_db()
    assert added.title == "Read it twice" and not added.required
    assert added.count == 1
    client.post(url("template_item_delete", template.pk, added.pk))
    assert not template.items.exists()


def test_it_copies_the_shipped_default_template_for_a_team(client_for, lead, team):
    default = ChecklistTemplate.objects.get(team=None, name="Service on-call readiness")
    assert default.items.count() == 12
    client = client_for(lead)
    assert "Service on-call readiness" in client.get(url("templates")).content.decode()
    # A lead cannot edit the shared default, only copy it.
    assert client.get(url("template_item_create", default.pk)).status_code == 404

    response = client.post(url("template_copy", default.pk))

    copy = ChecklistTemplate.objects.exclude(pk=default.pk).get()
    assert response["Location"] == url("template_edit", copy.pk)
    assert copy.team == team
    assert list(copy.items.values_list("title", "count")) == list(
        default.items.values_list("title", "count")
    )
    shadow = default.items.get(kind=Kind.SHADOW_SHIFT)
    assert shadow.count == 3
    assert default.items.get(kind=Kind.REVERSE_SHADOW_SHIFT).count == 2


def test_it_hides_another_teams_templates(client_for, outsider, team):
    template = make_template(team)
    assert client_for(outsider).get(url("template_edit", template.pk)).status_code == 404
    assert client_for(outsider).post(url("template_copy", template.pk)).status_code == 404


def test_it_says_why_a_signoff_was_refused_with_htmx_and_without(client_for, lead, onboarding):
    escalation = item(onboarding, "Escalation policy")
    client = client_for(lead)
    response = client.post(
        url("sign_off", onboarding.pk, escalation.pk), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'role="alert">This item is not done yet' in response.content.decode()

    response = client.post(url("sign_off", onboarding.pk, escalation.pk), follow=True)
    assert "This item is not done yet" in response.content.decode()
    assert item(onboarding, "Escalation policy").signed_off_at is None


def test_it_lets_staff_manage_readiness_in_the_admin(client_for, staff, onboarding, trainee):
    tick_item(item=item(onboarding, "Laptop and VPN"), by=trainee)
    client = client_for(staff)
    for model in ["checklisttemplate", "onboarding", "itemprogress", "activity"]:
        assert client.get(f"/admin/readiness/{model}/").status_code == 200, model
    template = onboarding.template
    assert (
        client.get(f"/admin/readiness/checklisttemplate/{template.pk}/change/").status_code == 200
    )
    assert client.get(f"/admin/readiness/onboarding/{onboarding.pk}/change/").status_code == 200


def test_it_escapes_names_and_titles_on_the_dashboard(client_for, lead, team, django_user_model):
    user = make_user(django_user_model, "mallory")
    user.first_name = '<img src=x onerror="alert(1)">'
    user.save(update_fields=["first_name"])
    Membership.objects.create(user=user, team=team)
    template = ChecklistTemplate.objects.create(team=team, name="One item")
    TemplateItem.objects.create(template=template, section="X", title="<script>x()</script>")
    start(user, team, template, lead)
    page = client_for(lead).get(url("dashboard", team.slug)).content.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "<script>x()" not in page
    assert "&lt;script&gt;x()&lt;/script&gt;" in page


def test_it_draws_my_onboarding_in_a_fixed_number_of_queries(
    client_for, trainee, lead, team, runbook, django_assert_max_num_queries
):
    template = ChecklistTemplate.objects.create(team=team, name="Forty items")
    kinds = [Kind.TASK, Kind.READ_RUNBOOK, Kind.SHADOW_SHIFT, Kind.DRILL]
    for n in range(40):
        TemplateItem.objects.create(
            template=template,
            section=f"Section {n // 10}",
            title=f"Item {n}",
            kind=kinds[n % 4],
            runbook=runbook if kinds[n % 4] == Kind.READ_RUNBOOK else None,
            needs_signoff=n % 3 == 0,
            order=n,
        )
    onboarding = start(trainee, team, template, lead)
    for n in range(0, 40, 4):
        tick_item(item=item(onboarding, f"Item {n}"), by=trainee)
    read_runbook(trainee, runbook)
    new_revision(runbook, "# Changed\n")
    client = client_for(trainee)
    client.get("/")  # the first look records the re-read; later looks only read

    with django_assert_max_num_queries(12):
        response = client.get("/")

    assert response.content.decode().count('class="item') >= 40


def test_it_draws_the_dashboard_and_csv_of_a_team_with_no_onboardings(client_for, lead, team):
    client = client_for(lead)
    response = client.get(url("dashboard", team.slug))
    assert response.status_code == 200
    assert client.get("/").status_code == 302  # a new lead lands on that dashboard
    csv_response = client.get(reverse("readiness:dashboard_csv", args=[team.slug]))
    assert csv_response.status_code == 200
    lines = csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig")))
    assert len(list(lines)) == 1  # header


def test_it_copies_for_the_leads_team_when_the_team_field_is_garbage(client_for, lead, team):
    default = ChecklistTemplate.objects.get(team=None, name="Service on-call readiness")
    response = client_for(lead).post(url("template_copy", default.pk), {"team": "abc"})
    assert response.status_code == 302
    assert ChecklistTemplate.objects.get(team=team).items.count() == 12


def test_it_orders_template_items_by_moving_them(client_for, lead, team, trainee):
    template = make_template(team)
    client = client_for(lead)

    def titles():
        return list(template.items.order_by("order").values_list("section", "title"))

    before = titles()
    assert before[:3] == [
        ("Access & tools", "Laptop and VPN"),
        ("Knowledge", "Escalation policy"),
        ("Knowledge", "Optional reading"),
    ]
    optional = template.items.get(title="Optional reading")
    move = url("template_item_move", template.pk, optional.pk)
    response = client.post(move, {"direction": "up"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert (
        response.content.decode().lstrip().startswith('<section class="card" id="template-items"')
    )
    assert titles()[1:3] == [("Knowledge", "Optional reading"), ("Knowledge", "Escalation policy")]
    # Past the section's top edge it joins the section above, without a JS request too.
    response = client.post(move, {"direction": "up"})
    assert response.status_code == 302
    assert titles()[:2] == [
        ("Access & tools", "Laptop and VPN"),
        ("Access & tools", "Optional reading"),
    ]
    # The section picker offers the template's sections and a new one.
    page = client.get(url("template_item_edit", template.pk, optional.pk)).content.decode()
    assert '<option value="Practice"' in page and '<option value="__new__"' in page
    assert client_for(trainee).post(move, {"direction": "up"}).status_code == 404


def test_it_copies_for_the_leads_team_when_the_team_field_is_a_superscript(client_for, lead, team):
    default = ChecklistTemplate.objects.get(team=None, name="Service on-call readiness")
    for garbage in ("²", "9" * 30):
        response = client_for(lead).post(url("template_copy", default.pk), {"team": garbage})
        assert response.status_code == 302
    assert ChecklistTemplate.objects.filter(team=team).count() == 2


def nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="site-nav".*?</nav>', html, re.S).group(0)
    return [re.sub(r"\s+", " ", text).strip() for text in re.findall(r"<a [^>]*>(.*?)</a>", nav)]


def test_the_home_link_says_my_onboarding_only_to_someone_who_has_one(
    client_for, trainee, primary, lead, onboarding
):
    assert nav_links(client_for(trainee).get("/").content.decode())[0] == "My onboarding"
    # The primary teaches and has no onboarding: their home is not "My onboarding".
    primary_nav = nav_links(client_for(primary).get(reverse("shifts:index")).content.decode())
    assert primary_nav[0] == "Home" and "My onboarding" not in primary_nav
    # A lead's home is the team's readiness, linked once.
    lead_nav = nav_links(client_for(lead).get(reverse("shifts:index")).content.decode())
    assert "My onboarding" not in lead_nav and "Home" not in lead_nav
    assert lead_nav.count("Team readiness") == 1
