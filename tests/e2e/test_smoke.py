from playwright.sync_api import expect


def test_trainee_signs_in_and_sees_the_home_page(live_server, page, sign_in, trainee):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, trainee)
    assert page.url == f"{live_server.url}/"
    expect(page.locator(".site-nav")).to_contain_text("My onboarding")
    expect(page.locator(".user-menu")).to_contain_text("trainee")
    assert errors == [], errors


def test_slash_focuses_the_search_box(live_server, page, sign_in, trainee):
    sign_in(page, trainee, "/profile/")
    page.keyboard.press("/")
    expect(page.locator("#site-search")).to_be_focused()
