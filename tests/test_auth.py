from django.urls import reverse

from oncall.teams.models import Profile
from tests.conftest import PASSWORD


def test_admin_sends_anonymous_visitors_to_sign_in(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_signed_in_member_opening_the_admin_is_told_it_is_for_staff(client_for, trainee):
    """Not a loop between /admin/login/ and /accounts/login/: one page saying why."""
    client = client_for(trainee)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert [url for url, _status in response.redirect_chain] == ["/admin/login/?next=/admin/"]
    text = response.content.decode()
    assert "The admin is for staff" in text
    assert "You are signed in as trainee, who is not staff here" in text
    # Any admin page, and the sign-in page sent there, end the same way.
    response = client.get("/accounts/login/?next=/admin/accounts/identity/", follow=True)
    assert response.status_code == 403
    assert len(response.redirect_chain) <= 3


def test_staff_sent_to_the_admin_login_go_on_to_the_admin(client_for, staff):
    response = client_for(staff).get("/admin/login/?next=/admin/accounts/identity/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/accounts/identity/"


def test_sign_in_page_renders(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_it_signs_in_and_out(client, trainee):
    response = client.post(reverse("login"), {"username": "trainee", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/profile/").status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get("/profile/").status_code == 302


def test_a_wrong_password_keeps_the_username(client, trainee):
    response = client.post(reverse("login"), {"username": "trainee", "password": "nope"})
    assert response.status_code == 200
    assert b'value="trainee"' in response.content
    assert b"correct username and password" in response.content


def test_every_user_gets_a_profile_with_a_long_calendar_token(django_user_model):
    user = django_user_model.objects.create_user("someone", password=PASSWORD)
    token = Profile.objects.get(user=user).calendar_token
    assert len(token) >= 43  # 32 bytes, base64url
    other = django_user_model.objects.create_user("someone-else", password=PASSWORD)
    assert other.profile.calendar_token != token


def test_profile_saves_time_zone_and_reminder_preferences(client_for, trainee):
    client = client_for(trainee)
    response = client.post(
        "/profile/",
        {
            "time_zone": "Europe/London",
            "lead_times": "24h, 1h, 15m",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
            "email_enabled": "on",
        },
    )
    assert response.status_code == 302
    trainee.profile.refresh_from_db()
    assert trainee.profile.time_zone == "Europe/London"
    assert trainee.profile.lead_times == [1440, 60, 15]


def test_profile_form_keeps_what_was_typed_on_error(client_for, trainee):
    client = client_for(trainee)
    response = client.post(
        "/profile/",
        {"time_zone": "Europe/London", "lead_times": "soon", "webhook_url": "ftp://x.example"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "“soon” is not a lead time" in content
    assert 'value="soon"' in content
    assert (
        "A webhook URL starts with http:// or https://" in content or "Enter a valid URL" in content
    )
    trainee.profile.refresh_from_db()
    assert trainee.profile.time_zone == "Asia/Tokyo"


def test_regenerating_the_calendar_token_changes_it(client_for, trainee):
    old = trainee.profile.calendar_token
    response = client_for(trainee).post(reverse("regenerate_calendar_token"))
    assert response.status_code == 302
    trainee.profile.refresh_from_db()
    assert trainee.profile.calendar_token != old


def test_pages_carry_csp_with_a_nonce_and_the_htmx_csrf_header(client_for, trainee):
    response = client_for(trainee).get("/profile/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp
    content = response.content.decode()
    assert 'hx-headers=\'{"x-csrftoken": "' in content
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in content


def test_a_missing_page_is_a_friendly_404_in_the_projects_look(client_for, trainee):
    response = client_for(trainee).get("/shifts/999999/")
    assert response.status_code == 404
    content = response.content.decode()
    assert "Nothing here" in content
    assert 'class="site-header"' in content
