"""The rotations page: who may see it, what it shows, and its forms (CSRF on every POST)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from oncall.rotations.models import Rotation, ShadowPlan
from oncall.rotations.read import read_rotation
from oncall.shifts.models import ShadowShift

URL = "/teams/payments/rotations/"


def day(n: int) -> str:
    return f"{datetime.now(UTC).date() + timedelta(days=n):%Y%m%d}"


def feed(*events: tuple[str, int, str]) -> str:
    """(uid, days from today, attendee or summary) → a feed of 09:00–17:00 UTC shifts."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN"]
    for uid, n, who in events:
        person = f"ATTENDEE:mailto:{who}@example.com" if who.isalnum() else f"SUMMARY:{who}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTART:{day(n)}T090000Z",
            f"DTEND:{day(n)}T170000Z",
            person,
            "END:VEVENT",
        ]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


@pytest.fixture
def rotation(team, lead, primary, trainee):
    rotation = Rotation.objects.create(
        team=team,
        name="Payments primary",
        uploaded=feed(("a", 1, "primary"), ("b", 2, "lead"), ("c", 3, "<script>alert(1)</script>")),
    )
    ShadowPlan.objects.create(
        rotation=rotation,
        trainee=trainee,
        starts_on=datetime.now(UTC).date(),
        ends_on=datetime.now(UTC).date() + timedelta(days=10),
    )
    read_rotation(rotation)
    return rotation


def test_a_lead_sees_who_is_on_call_the_shadows_and_the_unknown_names(
    client_for, lead, rotation, django_assert_max_num_queries
):
    client = client_for(lead)
    with django_assert_max_num_queries(14):
        response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Payments primary" in text
    # Two shadowed shifts, 18:00–02:00 in the lead's Tokyo: each shows on two days.
    assert text.count("shadow: trainee") == 4
    assert "from 18:00" in text and "until 02:00" in text
    assert "1 event names nobody we know" in text
    # Nothing from a feed is HTML.
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'action="/teams/payments/rotations/link/"' in text


def test_the_query_count_does_not_grow_with_rotations(
    client_for, lead, rotation, team, django_assert_max_num_queries
):
    for n in range(5):
        r = Rotation.objects.create(team=team, name=f"R{n}", uploaded=rotation.uploaded)
        read_rotation(r)
    client = client_for(lead)
    with django_assert_max_num_queries(14):
        assert client.get(URL).status_code == 200


def test_a_member_sees_the_page_without_the_forms(client_for, primary, rotation):
    text = client_for(primary).get(URL).content.decode()
    assert "Payments primary" in text
    assert "Add a rotation" not in text and 'name="user"' not in text


def test_others_get_404_and_anonymous_people_sign_in(client_for, outsider, rotation, client):
    assert Client().get(URL).status_code == 302
    assert client_for(outsider).get(URL).status_code == 404
    assert client.post(reverse("rotations:add", args=["payments"]), {}).status_code == 404


def test_a_member_cannot_post(client_for, primary, rotation):
    client = client_for(primary)
    for name in ("add", "add_plan", "link"):
        assert client.post(reverse(f"rotations:{name}", args=["payments"]), {}).status_code == 404
    assert client.post(reverse("rotations:read", args=["payments", rotation.pk])).status_code == 404


def test_every_post_needs_the_csrf_token(lead, rotation):
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    for url in (
        reverse("rotations:add", args=["payments"]),
        reverse("rotations:add_plan", args=["payments"]),
        reverse("rotations:link", args=["payments"]),
        reverse("rotations:read", args=["payments", rotation.pk]),
    ):
        assert client.post(url, {}).status_code == 403


def test_a_lead_adds_a_rotation_from_a_file_and_a_bad_file_is_named(
    client_for, lead, team, primary
):
    client = client_for(lead)
    good = SimpleUploadedFile("r.ics", feed(("x", 1, "primary")).encode(), "text/calendar")
    response = client.post(
        reverse("rotations:add", args=["payments"]),
        {"name": "Upload", "upload": good, "person": "attendee"},
    )
    assert response.status_code == 302
    rotation = Rotation.objects.get(name="Upload")
    assert rotation.shifts.get().person == primary
    bad = SimpleUploadedFile("r.ics", b"<html></html>", "text/calendar")
    response = client.post(
        reverse("rotations:add", args=["payments"]),
        {"name": "Bad", "upload": bad, "person": "attendee"},
    )
    assert response.status_code == 400
    assert "not an iCalendar file" in response.content.decode()


def test_a_lead_links_an_unknown_name_and_the_plan_picks_it_up(
    client_for, lead, primary, trainee, rotation
):
    client = client_for(lead)
    response = client.post(
        reverse("rotations:link", args=["payments"]),
        {"name": "<script>alert(1)</script>", "user": primary.pk},
    )
    assert response.status_code == 302
    assert ShadowShift.objects.filter(trainee=trainee, primary=primary).count() == 2
    assert "nobody we know" not in client.get(URL).content.decode()


def test_a_lead_adds_a_plan_and_its_dates_are_checked(client_for, lead, trainee, rotation):
    client = client_for(lead)
    today = datetime.now(UTC).date()
    bad = client.post(
        reverse("rotations:add_plan", args=["payments"]),
        {
            "rotation": rotation.pk,
            "trainee": trainee.pk,
            "starts_on": today,
            "ends_on": today - timedelta(days=1),
            "kind": "shadow",
        },
    )
    assert bad.status_code == 400
    assert "ends before it starts" in bad.content.decode()


def test_the_error_is_shown_in_words(client_for, lead, rotation):
    Rotation.objects.filter(pk=rotation.pk).update(
        error_code="status", error_params={"status": 404}
    )
    assert "The feed answered 404." in client_for(lead).get(URL).content.decode()
