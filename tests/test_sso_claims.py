"""Claims read with their types checked, and tokens refused before any key is fetched."""

import time

import jwt
import pytest

from oncall.accounts.oidc import SignInRefused, read_person, verify_id_token

GOOD = {
    "sub": "00u1",
    "preferred_username": "ada",
    "email": "ada@example.com",
    "email_verified": True,
    "given_name": "Ada",
    "family_name": "Lovelace",
    "groups": ["oncall-payments"],
}


def test_it_reads_a_person():
    person = read_person(GOOD)
    assert (person.subject, person.username, person.email) == ("00u1", "ada", "ada@example.com")
    assert person.email_verified is True
    assert person.groups == ("oncall-payments",)


def test_a_full_name_stands_in_for_given_and_family_names():
    claims = {**GOOD, "name": "Ada L."}
    del claims["given_name"], claims["family_name"]
    assert read_person(claims).first_name == "Ada L."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sub": None}, "“sub” claim: it is missing"),
        ({"preferred_username": ""}, "“preferred_username” claim: it is empty"),
        ({"preferred_username": ["ada"]}, "“preferred_username” claim: it is a list, not text"),
        ({"preferred_username": "ada lovelace"}, "“ada lovelace” is not a valid username"),
        ({"preferred_username": "a" * 151}, "longer than 150 characters"),
        ({"email_verified": "true"}, "“email_verified” claim: it is not true or false"),
        ({"groups": "oncall-payments"}, "“groups” claim: it is not a list of group names"),
        ({"groups": [1, 2]}, "“groups” claim: it is not a list of group names"),
        ({"email": 7}, "“email” claim: it is a number, not text"),
    ],
)
def test_a_claim_missing_or_of_the_wrong_type_is_named(change, message):
    claims = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(SignInRefused) as refused:
        read_person(claims)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("change", "claim", "reason"),
    [
        ({"email": "ada\x00@example.com"}, "email", "NUL character"),
        ({"given_name": "Ada\udfff"}, "given_name", "lone surrogate (U+DFFF)"),
        ({"sub": "00u1\x00"}, "sub", "NUL character"),
        ({"preferred_username": "ada\ud800"}, "preferred_username", "lone surrogate (U+D800)"),
        ({"groups": ["oncall-payments", "oncall-\x00"]}, "groups", "NUL character"),
        ({"name": "\udc80", "given_name": None, "family_name": None}, "name", "lone surrogate"),
    ],
)
def test_a_claim_with_nul_or_a_lone_surrogate_refuses_the_sign_in_naming_it(change, claim, reason):
    # The boundary rule (oncall/core/text.py): PostgreSQL refuses NUL in text,
    # SQLite's driver cannot encode a surrogate; either would be a 500 later.
    claims = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(SignInRefused) as refused:
        read_person(claims)
    message = str(refused.value)
    assert f"“{claim}” claim: it holds characters that cannot be stored" in message
    assert reason in message


def test_the_username_claim_is_configurable(settings):
    settings.OIDC_USERNAME_CLAIM = "email"
    assert read_person(GOOD).username == "ada@example.com"


@pytest.mark.parametrize("algorithm", ["HS256", "none"])
def test_tokens_not_signed_with_a_public_key_are_refused(settings, algorithm):
    # Refused on the header alone: an HMAC keyed with the client secret (or no
    # signature at all) proves nothing about the provider.
    settings.OIDC_ISSUER = "http://127.0.0.1:9"
    settings.OIDC_CLIENT_ID = "oncall"
    claims = {"iss": settings.OIDC_ISSUER, "aud": "oncall", "sub": "x", "exp": time.time() + 60}
    key = "the-client-secret-is-not-a-signing-key" if algorithm == "HS256" else None
    token = jwt.encode(claims, key, algorithm=algorithm)
    with pytest.raises(SignInRefused, match="is not accepted"):
        verify_id_token(token, nonce="n")


@pytest.mark.parametrize("token", [None, "", "not.a.jwt", 42])
def test_something_that_is_not_a_token_is_refused(token):
    with pytest.raises(SignInRefused):
        verify_id_token(token, nonce="n")
