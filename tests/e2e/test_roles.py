"""Each role in Chromium: the primary's home, the debrief conversation, the lead's pickers."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from oncall.readiness.progress import start_onboarding
from oncall.runbooks.sync import sync_folders
from oncall.shifts.models import ShadowShift
from tests.test_readiness_support import make_template


def test_the_debrief_is_a_conversation_between_trainee_and_primary(
    live_server, browser, sign_in, team, trainee, primary, lead
):
    start_onboarding(
        engineer=trainee, team=team, template=make_template(team), started_by=lead, mentor=primary
    )
    now = timezone.now()
    shift = ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=now - timedelta(hours=10),
        ends_at=now - timedelta(hours=2),
        time_zone="Asia/Tokyo",
    )
    trainee_page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(trainee_page, trainee, shift.get_absolute_url())
    trainee_page.fill("textarea[name=pages_seen]", "PaymentsHighErrorRate at 14:10")
    trainee_page.fill("textarea[name=open_questions]", "Who decides to fail over?")
    trainee_page.click("button:has-text('Save the debrief')")
    expect(trainee_page.locator(".messages")).to_contain_text("Debrief saved")
    expect(trainee_page.locator("#answer ~ p")).to_contain_text("Waiting for primary")
    assert trainee_page.locator("textarea[name=answer_0]").count() == 0

    primary_page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(primary_page, primary)
    expect(primary_page.locator("h1")).to_have_text("The people you teach")
    expect(primary_page.locator("#questions-title + ul")).to_contain_text(
        "Who decides to fail over?"
    )
    primary_page.click("#questions-title + ul a")
    # The trainee's part is there to read, not to edit.
    assert primary_page.locator("textarea[name=pages_seen]").count() == 0
    expect(primary_page.locator(".debrief__read").first).to_contain_text("PaymentsHighErrorRate")
    primary_page.fill("textarea[name=answer_0]", "The incident commander, on the bridge.")
    primary_page.check("input[name=ready_for_reverse][value=yes]")
    primary_page.click("button:has-text('Send the answer')")
    expect(primary_page.locator(".messages")).to_contain_text("Answer saved")

    trainee_page.reload()
    expect(trainee_page.locator("#debrief")).to_contain_text(
        "The incident commander, on the bridge."
    )
    assert trainee_page.locator("textarea[name=answer_0]").count() == 0
    assert trainee_page.evaluate("document.documentElement.scrollWidth") <= 390
    trainee_page.context.close()
    primary_page.context.close()


def test_the_lead_picks_trainees_first_and_no_one_as_their_own_primary(
    live_server, page, sign_in, team, trainee, primary, lead
):
    start_onboarding(engineer=trainee, team=team, template=make_template(team), started_by=lead)
    sign_in(page, lead, "/shifts/new/")
    first = page.locator("select[name=trainee] option:not([value=''])").first
    expect(first).to_have_text("trainee")
    primaries = page.locator("select[name=primary] option").all_inner_texts()
    assert "trainee" not in [p.strip() for p in primaries]
    page.select_option("select[name=trainee]", label="primary")
    expect(page.locator("select[name=primary] option", has_text="primary")).to_be_disabled()


def test_an_alert_without_a_runbook_leads_somewhere(live_server, phone, sign_in, trainee, tmp_path):
    (tmp_path / "crash.md").write_text("# Pod is crash-looping\n\nCheck the container's logs.\n")
    assert sync_folders([tmp_path]).ok
    sign_in(phone, trainee, "/runbooks/alert/KubePodCrashLooping")
    expect(phone.locator("h1")).to_contain_text("No runbook answers KubePodCrashLooping yet")
    suggestion = phone.locator(".runbook-hits a").first
    expect(suggestion).to_have_attribute("href", "/runbooks/crash/")
    # The author's hint is folded away; the search holds the alert's words.
    expect(phone.locator("details.claim-hint pre")).to_be_hidden()
    expect(phone.locator("#alert-search")).to_have_value("kube pod crash looping")
    phone.fill("#alert-search", "crashloop")
    phone.click("button:has-text('Search')")
    expect(phone.locator("a.runbook-hit__title").first).to_have_attribute(
        "href", "/runbooks/crash/"
    )
    suggestion_page = phone.url
    assert "q=crashloop" in suggestion_page
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
