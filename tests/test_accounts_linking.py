"""Which local account a single sign-on person becomes, and an admin linking one by hand.

A verified email links an account only when that account could not sign in
any other way: never staff, a superuser, or an account with a usable
password. Those are refused with what an admin needs, and the admin links
the identity on the person's page or under Sign-in › Identities.
"""

import re

import pytest

from oncall.accounts.models import Identity
from oncall.accounts.oidc import Person, SignInRefused, user_for
from tests.conftest import make_user
from tests.html_elements import elements

ISSUER = "https://idp.example.com"


@pytest.fixture(autouse=True)
def _provider(settings):
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_CLIENT_ID = "oncall"
    settings.OIDC_CLIENT_SECRET = "secret"
    settings.OIDC_PROVIDER_NAME = "Example SSO"


def person(email: str, *, subject: str = "idp-subject-1", username: str = "someone") -> Person:
    return Person(
        subject=subject,
        username=username,
        email=email,
        email_verified=True,
        first_name="",
        last_name="",
        groups=(),
    )


def test_a_verified_email_never_links_the_superuser(django_user_model):
    """The attack of issue 26: an IdP account with the superuser's address, in capitals."""
    admin = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-12345678")
    with pytest.raises(SignInRefused) as refused:
        user_for(person("ADMIN@example.com"))
    message = str(refused.value)
    assert "never links such an account to a Example SSO sign-in by email" in message
    assert refused.value.identity == (ISSUER, "idp-subject-1")
    assert not Identity.objects.exists()
    assert not admin.identities.exists()

    # Unchanged: an account with no password that is not staff is still linked.
    newcomer = django_user_model.objects.create_user("newcomer", email="newcomer@example.com")
    assert not newcomer.has_usable_password()
    assert user_for(person("Newcomer@example.com", subject="idp-subject-2")) == newcomer
    assert Identity.objects.get().user == newcomer


@pytest.mark.parametrize(
    ("staff", "superuser", "password"),
    [
        (True, False, None),  # staff without a password (signs in by SSO elsewhere)
        (False, True, None),  # a superuser not marked staff
        (False, False, "a-long-password"),  # a plain account that signs in with a password
    ],
)
def test_staff_superusers_and_password_accounts_are_not_linked_by_email(
    django_user_model, staff, superuser, password
):
    user = django_user_model.objects.create_user(
        "kept", email="kept@example.com", password=password, is_staff=staff, is_superuser=superuser
    )
    with pytest.raises(SignInRefused):
        user_for(person("kept@example.com"))
    assert not Identity.objects.filter(user=user).exists()
    assert not django_user_model.objects.filter(username="someone").exists()


def test_a_taken_username_is_refused_with_the_identity_to_link(django_user_model):
    make_user(django_user_model, "someone")
    with pytest.raises(SignInRefused) as refused:
        user_for(person("elsewhere@example.org"))
    assert refused.value.identity == (ISSUER, "idp-subject-1")


# -- an admin links the identity by hand ------------------------------------------------


def test_an_admin_links_an_identity_by_hand_and_the_next_sign_in_finds_it(
    client_for, staff, django_user_model
):
    admin = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-12345678")
    with pytest.raises(SignInRefused):
        user_for(person("admin@example.com", subject="00u-admin"))

    client = client_for(staff)
    form = client.get("/admin/accounts/identity/add/")
    assert form.status_code == 200
    assert f'value="{ISSUER}"' in form.content.decode()  # the configured issuer, filled in
    response = client.post(
        "/admin/accounts/identity/add/",
        {"user": admin.pk, "issuer": ISSUER, "subject": " 00u-admin "},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Identity.objects.get().subject == "00u-admin"

    # Found by subject now, whatever the email says.
    assert user_for(person("admin@example.com", subject="00u-admin")) == admin
    assert user_for(person("renamed@example.com", subject="00u-admin")) == admin


def test_the_persons_admin_page_links_identities_inline(client_for, staff, django_user_model):
    admin = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-12345678")
    client = client_for(staff)
    url = f"/admin/auth/user/{admin.pk}/change/"
    page = client.get(url).content.decode()
    assert "identities at the single sign-on provider" in page.lower()
    assert 'name="identities-TOTAL_FORMS"' in page
    data = form_data(page, "user_form") | {
        "identities-TOTAL_FORMS": "1",
        "identities-0-issuer": ISSUER,
        "identities-0-subject": "00u-inline",
    }
    response = client.post(url, data)
    assert response.status_code == 302, re.findall(
        r"errorlist.*?</ul>", response.content.decode(), re.S
    )
    assert Identity.objects.get(user=admin).subject == "00u-inline"


def form_data(html: str, form_id: str) -> dict[str, str | list[str]]:
    """What a browser would submit from the form ``form_id`` of ``html``, as it stands."""
    form = html[html.index(f'id="{form_id}"') :]
    form = form[: form.index("</form>")]
    data: dict[str, list[str]] = {}
    for field in elements(form, "input"):
        name, kind = field.attrs.get("name"), field.attrs.get("type", "text")
        if not name or kind in ("submit", "button", "file"):
            continue
        if kind in ("checkbox", "radio") and "checked" not in field.attrs:
            continue
        default = "on" if kind in ("checkbox", "radio") else ""
        data.setdefault(name, []).append(field.attrs.get("value", default))
    for select in re.finditer(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.findall(r'<option value="([^"]*)"[^>]*selected', select[2])
        data[select[1]] = chosen
    for area in elements(form, "textarea"):
        data[area.attrs["name"]] = [area.text]
    return {name: values[0] if len(values) == 1 else values for name, values in data.items()}
