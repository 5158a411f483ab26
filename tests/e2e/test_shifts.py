"""A lead schedules a series; the trainee finds it on the calendar and writes a debrief."""

import re
from datetime import timedelta
from urllib.parse import quote

from django.utils import timezone
from playwright.sync_api import expect

from oncall.shifts.models import ShadowShift


def next_monday_in_tokyo(team):
    today = timezone.now().astimezone(team.tz).date()
    return today + timedelta(days=7 - today.weekday() + 7)


def test_lead_schedules_a_series_and_the_trainee_sees_it(
    live_server, browser, page, sign_in, lead, trainee, primary, team
):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    monday = next_monday_in_tokyo(team)

    # The lead: weekdays 09:00–17:00 for two weeks, in the team's zone.
    sign_in(page, lead, "/shifts/new/")
    expect(page.locator("select[name=time_zone]")).to_have_value("Asia/Tokyo")
    page.select_option("select[name=trainee]", label="trainee")
    page.select_option("select[name=primary]", label="primary")
    page.fill("input[name=starts_on]", monday.isoformat())
    page.fill("input[name=start_time]", "09:00")
    page.fill("input[name=end_time]", "17:00")
    page.select_option("select[name=repeat]", "weekdays")
    page.fill("input[name=weeks]", "2")
    page.click("button[type=submit]:has-text('Schedule')")
    expect(page.locator(".messages")).to_contain_text("Scheduled 10 shifts for trainee")
    assert ShadowShift.objects.filter(trainee=trainee).count() == 10

    # Then a reverse-shadow week right after the two shadow weeks.
    page.goto(f"{live_server.url}/shifts/new/")
    page.select_option("select[name=trainee]", label="trainee")
    page.select_option("select[name=primary]", label="primary")
    page.check("input[name=kind][value=reverse_shadow]")
    page.fill("input[name=starts_on]", (monday + timedelta(days=14)).isoformat())
    page.fill("input[name=start_time]", "09:00")
    page.fill("input[name=end_time]", "17:00")
    page.select_option("select[name=repeat]", "weekdays")
    page.fill("input[name=weeks]", "1")
    page.click("button[type=submit]:has-text('Schedule')")
    expect(page.locator(".messages")).to_contain_text("Scheduled 5 shifts for trainee")
    expect(page.locator(".week .shift-block--reverse_shadow")).to_have_count(5)

    # The trainee: the week of the first shift, then the next week through htmx.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    trainee_page = context.new_page()
    trainee_page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(trainee_page, trainee, quote(f"/shifts/?view=week&date={monday.isoformat()}"))
    blocks = trainee_page.locator(".week .shift-block")
    expect(blocks).to_have_count(5)
    expect(blocks.first).to_contain_text("09:00–17:00 JST")
    expect(trainee_page.locator(".next-shift")).to_contain_text("starts in")
    trainee_page.click("#calendar a[rel=next]")
    expect(trainee_page).to_have_url(re.compile(r"date=" + (monday + timedelta(7)).isoformat()))
    expect(trainee_page.locator(".week .shift-block")).to_have_count(5)
    # The month view lists them too, with real links to each shift.
    trainee_page.click("#calendar .segmented a:has-text('Month')")
    expect(trainee_page.locator(".month")).to_be_visible()
    trainee_page.locator(".month .shift-chip").first.click()
    expect(trainee_page.locator("h1")).to_have_text("Shadow shift")
    expect(trainee_page.locator(".shift-summary")).to_contain_text("09:00–17:00 JST")
    context.close()
    assert errors == [], errors


def test_trainee_writes_a_debrief_after_a_shift(live_server, page, sign_in, trainee, primary, team):
    now = timezone.now()
    shift = ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=now - timedelta(hours=10),
        ends_at=now - timedelta(hours=2),
        time_zone="Asia/Tokyo",
    )
    sign_in(page, trainee, "/shifts/")
    expect(page.locator(".banner")).to_contain_text("A debrief is waiting for you")
    page.click(".banner a")
    page.click("button:has-text('I attended')")
    expect(page.locator(".messages")).to_contain_text("Recorded that you attended")
    page.fill("textarea[name=pages_seen]", "PaymentsHighErrorRate at 14:10")
    page.fill("textarea[name=open_questions]", "Who decides to fail over?")
    page.click("button:has-text('Save the debrief')")
    expect(page.locator(".messages")).to_contain_text("Debrief saved")
    expect(page.locator("textarea[name=open_questions]")).to_have_value("Who decides to fail over?")
    shift.refresh_from_db()
    # Attending waits for the primary's confirmation before it counts.
    assert shift.state == ShadowShift.State.SCHEDULED and shift.attended_at is not None
    assert shift.debriefed_at is not None


def test_the_calendar_fits_a_phone(live_server, phone, sign_in, trainee, primary, team):
    # A shift going on now is in this week's grid whatever the day and hour
    # (tomorrow would fall in next week's grid on a Sunday).
    start = timezone.now() - timedelta(hours=1)
    ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    sign_in(phone, trainee, "/shifts/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    expect(phone.locator(".week .shift-block").first).to_be_visible()


def test_the_calendar_link_copies_and_opens_in_calendar_apps(
    live_server, browser, sign_in, lead, trainee, team
):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    sign_in(page, lead, "/shifts/#subscribe")
    mine = page.locator("#feed-mine")
    url = mine.input_value()
    assert re.fullmatch(rf"{live_server.url}/shifts/feed/[\w-]+\.ics", url)
    # A click selects the whole URL; the Copy button puts it on the clipboard.
    mine.click()
    selected = page.evaluate(
        "() => { const f = document.activeElement;"
        " return f.value.slice(f.selectionStart, f.selectionEnd); }"
    )
    assert selected == url
    copy = page.locator("button[data-copy=feed-mine]")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == url
    links = page.locator(".feed-link").first
    webcal = links.get_by_role("link", name="Open in your calendar app").get_attribute("href")
    assert webcal == "webcal://" + url.split("://", 1)[1]
    google = links.get_by_role("link", name="Add to Google Calendar").get_attribute("href")
    assert google.startswith("https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2F")
    # The lead's team feed is labelled as such.
    expect(page.locator("label[for=feed-team-payments]")).to_contain_text("Team feed")
    # Nothing spills sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()
