"""In Chromium: the leads' dashboard at 390 px is one card per person, with no sideways scroll."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from oncall.readiness.models import Onboarding
from oncall.runbooks.models import Runbook
from oncall.teams.models import Membership
from tests.e2e.shots import shots_folder
from tests.test_readiness_drills import drill_template, run_drill, scenario_of
from tests.test_readiness_pages import HANDLED_WELL, respond
from tests.test_readiness_support import start

SHOTS = shots_folder()


def dashboard_of_three(team, lead, primary, trainee):
    """Three onboardings with drills and live pages; one stalled and overdue."""
    now = timezone.now()
    runbook = Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)
    scenario = scenario_of(team, lead)
    people = [trainee]
    for name in ("Aiko Tanaka-Fernández", "Bartholomew Oyelaran-Smith"):
        first, last = name.split(" ")
        user = get_user_model().objects.create_user(
            username=first.lower(), first_name=first, last_name=last
        )
        Membership.objects.create(user=user, team=team, role=Membership.Role.MEMBER)
        people.append(user)
    template = drill_template(team, count=2)
    for n, person in enumerate(people):
        onboarding = start(person, team, template, lead)
        Onboarding.objects.filter(pk=onboarding.pk).update(started_at=now - timedelta(weeks=6))
        for week in range(5):
            at = now - timedelta(weeks=week, days=1)
            respond(
                team,
                person,
                primary,
                at=at,
                ack=90 + 60 * week + 30 * n,
                first_runbook=150 + 60 * week,
                runbook=runbook,
                mark=HANDLED_WELL,
            )
            run_drill(
                scenario,
                person,
                lead,
                at=at - timedelta(days=1),
                ack=45 + 40 * week,
                first_runbook=100 + 30 * week,
                runbook=runbook,
            )
    stalled = Onboarding.objects.get(engineer=people[2])
    Onboarding.objects.filter(pk=stalled.pk).update(
        last_activity_at=now - timedelta(days=12), target_date=(now - timedelta(days=3)).date()
    )


def test_the_dashboard_is_stacked_cards_without_sideways_scroll_at_390_px(
    live_server, browser, sign_in, team, lead, primary, trainee
):
    dashboard_of_three(team, lead, primary, trainee)
    url = f"/teams/{team.slug}/readiness/"

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    sign_in(phone, lead, url)
    assert phone.url.endswith(url)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    # Each person is a card whose values carry their column's name.
    rows = phone.locator(".readiness-table tbody tr")
    assert rows.count() == 3
    card = rows.filter(has_text="Bartholomew")
    assert card.locator("td").first.evaluate("e => getComputedStyle(e).display") == "flex"
    label = card.locator("td[data-label^='Median time to acknowledge']")
    assert label.evaluate("e => getComputedStyle(e, '::before').content").startswith(
        '"Median time to acknowledge'
    )
    # "stalled" and "overdue" are on the screen's width, not past its edge.
    for word in ("stalled", "overdue"):
        box = card.locator(".badge", has_text=word).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390
    card.scroll_into_view_if_needed()
    phone.screenshot(path=str(SHOTS / "dashboard-phone.png"), full_page=True)

    desk = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(desk, lead, url)
    assert desk.locator(".readiness-table thead").is_visible()
    assert desk.locator(".readiness-table svg.trend").count() == 3
    desk.screenshot(path=str(SHOTS / "dashboard-desktop.png"), full_page=True)
    # Wide enough for every column at 1280 px: no sideways scroll inside the card either.
    assert desk.evaluate(
        "(() => { const w = document.querySelector('.dashboard-table .table-wrap');"
        " return w.scrollWidth <= w.clientWidth; })()"
    )
