"""Sign-in through the company's identity provider with OpenID Connect.

mozilla-django-oidc carries the protocol's moving parts (state, nonce and the
PKCE verifier kept in the session; the code-for-token exchange; userinfo).
This module adds what a deployment configured only by ``OIDC_ISSUER`` needs:
discovery, a JWKS cache that picks up rotated keys, strict ID token checks
(signature, ``iss``, ``aud``, ``exp``, nonce), claims read with their types
checked, and matching to local users that never takes over an account.
"""

import logging
from dataclasses import dataclass

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from oncall.accounts.backends import user_by_id
from oncall.accounts.groups import sync_teams
from oncall.accounts.models import Identity
from oncall.core.text import TextRefused, check_text

logger = logging.getLogger(__name__)

TIMEOUT = 10  # seconds for any call to the provider
DISCOVERY_TTL = 60 * 60
DISCOVERY_DOWN_TTL = 15  # a provider that did not answer is asked again this soon
JWKS_TTL = 60 * 60
# Asymmetric algorithms only: "none" and the HS* family (keyed with the client
# secret) are never accepted for an ID token here.
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
CLOCK_SKEW = 60  # seconds of leeway on exp/iat between us and the provider


class ProviderUnavailable(Exception):
    """The identity provider did not answer, or answered with nonsense."""


class SignInRefused(Exception):
    """The provider answered, and what it said does not let this person in.

    The message is shown to the person as it is: it names the problem. When
    an admin can let them in by linking their identity to an account by hand,
    ``identity`` holds what the admin needs: (issuer, subject).
    """

    def __init__(self, message: str, *, identity: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.identity = identity


def is_configured() -> bool:
    return bool(settings.OIDC_ISSUER)


def _fetch_json(url: str, what: str) -> dict:
    try:
        response = requests.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as e:
        raise ProviderUnavailable(f"{what} at {url} did not answer: {e}") from e
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{what} at {url} is not a JSON object")
    return document


def discover() -> dict:
    """The provider's metadata from ``/.well-known/openid-configuration``.

    1. Served from the cache for an hour (shared by every worker).
    2. A failure is remembered for a few seconds, so a sign-in page does not
       wait on a dead provider for every visitor.
    3. The document must name our issuer exactly and the endpoints we use.
    """
    issuer = settings.OIDC_ISSUER
    key = f"oidc:discovery:{issuer}"
    cached = cache.get(key)
    if isinstance(cached, dict):
        return cached
    if isinstance(cached, str):
        raise ProviderUnavailable(cached)
    try:
        metadata = _fetch_json(f"{issuer}/.well-known/openid-configuration", "discovery")
        if metadata.get("issuer") != issuer:
            raise ProviderUnavailable(
                f"discovery names the issuer {metadata.get('issuer')!r}, not {issuer!r}"
            )
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(field), str):
                raise ProviderUnavailable(f"discovery has no {field}")
    except ProviderUnavailable as e:
        logger.warning("OpenID Connect provider unavailable: %s", e)
        cache.set(key, str(e), DISCOVERY_DOWN_TTL)
        raise
    cache.set(key, metadata, DISCOVERY_TTL)
    return metadata


def _jwks(jwks_uri: str, *, fresh: bool) -> list[dict]:
    key = f"oidc:jwks:{jwks_uri}"
    keys = None if fresh else cache.get(key)
    if keys is None:
        keys = _fetch_json(jwks_uri, "the key set").get("keys")
        if not isinstance(keys, list):
            raise ProviderUnavailable(f"the key set at {jwks_uri} holds no keys")
        cache.set(key, keys, JWKS_TTL)
    return keys


def signing_key(header: dict) -> jwt.PyJWK:
    """The provider's public key for a token with this header.

    1. Look in the cached key set for the token's ``kid`` (and ``alg`` when the
       key names one).
    2. Not there: the provider may have rotated its keys; fetch the set once
       more and look again.
    3. Still not there: the token was not signed by this provider.
    """
    jwks_uri = discover()["jwks_uri"]
    for fresh in (False, True):
        for jwk in _jwks(jwks_uri, fresh=fresh):
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            if header.get("kid") is not None and jwk.get("kid") != header.get("kid"):
                continue
            if "alg" in jwk and jwk["alg"] != header.get("alg"):
                continue
            try:
                return jwt.PyJWK(jwk, algorithm=header.get("alg"))
            except jwt.PyJWTError:
                continue
    raise SignInRefused(
        _("The sign-in token was signed with a key that %(provider)s does not publish.")
        % {"provider": settings.OIDC_PROVIDER_NAME}
    )


def verify_id_token(token: object, *, nonce: str | None) -> dict:
    """The claims of an ID token, once its signature, issuer, audience, expiry and nonce hold."""
    refused = _("The identity provider's sign-in token was refused: %(reason)s")
    if not isinstance(token, str) or not token:
        raise SignInRefused(refused % {"reason": _("there was no ID token in its answer.")})
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise SignInRefused(refused % {"reason": _("it is not a JSON Web Token.")}) from None
    if header.get("alg") not in SIGNING_ALGORITHMS:
        raise SignInRefused(
            refused % {"reason": _("its algorithm %(alg)s is not accepted.") % header}
            if "alg" in header
            else refused % {"reason": _("it names no algorithm.")}
        )
    key = signing_key(header)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[header["alg"]],
            audience=settings.OIDC_CLIENT_ID,
            issuer=settings.OIDC_ISSUER,
            leeway=CLOCK_SKEW,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except jwt.InvalidSignatureError:
        reason = _("its signature does not match the provider's keys.")
    except jwt.ExpiredSignatureError:
        reason = _("it has expired (check the clocks of both servers).")
    except jwt.InvalidAudienceError:
        reason = _("it was issued for another application (aud).")
    except jwt.InvalidIssuerError:
        reason = _("it was issued by another provider (iss).")
    except jwt.PyJWTError as e:
        reason = str(e)
    else:
        reason = None
    if reason:
        raise SignInRefused(refused % {"reason": reason})
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != settings.OIDC_CLIENT_ID:
        raise SignInRefused(
            refused % {"reason": _("it names several audiences and not us as azp.")}
        )
    if nonce is not None and not constant_time_compare(str(claims.get("nonce", "")), nonce):
        raise SignInRefused(
            refused % {"reason": _("its nonce is not the one this browser sent (a replay?).")}
        )
    return claims


@dataclass(frozen=True)
class Person:
    """What the provider says about a person, with every type checked."""

    subject: str
    username: str
    email: str
    email_verified: bool
    first_name: str
    last_name: str
    groups: tuple[str, ...]


def _claim_error(claim: str, problem: str) -> SignInRefused:
    return SignInRefused(
        _(
            "%(provider)s did not send a usable “%(claim)s” claim: %(problem)s "
            "Ask whoever runs the identity provider to include it for this application."
        )
        % {"provider": settings.OIDC_PROVIDER_NAME, "claim": claim, "problem": problem}
    )


def _json_type(value: object) -> str:
    """What a JSON value is, in words a person reading the error page knows."""
    if isinstance(value, bool):
        return _("true or false")
    if isinstance(value, int | float):
        return _("a number")
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, dict):
        return _("an object")
    return type(value).__name__


def _text_claim(claims: dict, name: str, *, required: bool, max_length: int) -> str:
    value = claims.get(name)
    if value is None:
        if required:
            raise _claim_error(name, _("it is missing."))
        return ""
    if not isinstance(value, str):
        raise _claim_error(name, _("it is %(type)s, not text.") % {"type": _json_type(value)})
    _check_text(value, name)
    value = value.strip()
    if required and not value:
        raise _claim_error(name, _("it is empty."))
    if len(value) > max_length:
        raise _claim_error(name, _("it is longer than %(n)d characters.") % {"n": max_length})
    return value


def _check_text(value: str, claim: str) -> None:
    """The boundary rule for text (oncall/core/text.py): no NUL, no lone surrogate."""
    try:
        check_text(value, name=claim)
    except TextRefused as e:
        raise _claim_error(
            claim, _("it holds characters that cannot be stored (%(reason)s).") % {"reason": e}
        ) from None


def read_person(claims: dict) -> Person:
    username_claim = settings.OIDC_USERNAME_CLAIM
    username = _text_claim(claims, username_claim, required=True, max_length=150)
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise _claim_error(
            username_claim, _("“%(value)s” is not a valid username.") % {"value": username}
        ) from None
    verified = claims.get("email_verified", False)
    if not isinstance(verified, bool):
        raise _claim_error("email_verified", _("it is not true or false."))
    groups = claims.get(settings.OIDC_GROUPS_CLAIM, [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise _claim_error(settings.OIDC_GROUPS_CLAIM, _("it is not a list of group names."))
    for group in groups:
        _check_text(group, settings.OIDC_GROUPS_CLAIM)
    first = _text_claim(claims, "given_name", required=False, max_length=150)
    last = _text_claim(claims, "family_name", required=False, max_length=150)
    if not (first or last):
        first = _text_claim(claims, "name", required=False, max_length=150)
    return Person(
        subject=_text_claim(claims, "sub", required=True, max_length=255),
        username=username,
        email=_text_claim(claims, "email", required=False, max_length=254),
        email_verified=verified,
        first_name=first,
        last_name=last,
        groups=tuple(groups),
    )


def linkable_by_email(user) -> bool:
    """Whether a sign-in whose verified email is this user's may link to them.

    Only an account that could not sign in any other way: never staff or a
    superuser, never one with a usable password. Linking those by email would
    hand them to whoever controls that address at the provider (an address
    reused, a provider that verifies carelessly); an admin links them by
    hand instead.
    """
    return not (user.is_staff or user.is_superuser or user.has_usable_password())


def user_for(person: Person):
    """The local user this person signs in as, created on first sign-in.

    1. Someone who signed in before is found by issuer and subject.
    2. Otherwise a local user with the same email is linked, but only when the
       provider says the email is verified, only if exactly one has it, and
       only if that account is ``linkable_by_email``; any other is refused
       with what an admin needs to link it by hand.
    3. Otherwise a new user is made with the username claim, unless that
       username is taken: an unverified claim never takes over an account.
    Runs inside the caller's transaction: a refusal leaves nothing behind.
    """
    User = get_user_model()
    issuer = settings.OIDC_ISSUER
    now = timezone.now()
    identity = (
        Identity.objects.select_related("user")
        .filter(issuer=issuer, subject=person.subject)
        .first()
    )
    if identity is not None:
        user = identity.user
        Identity.objects.filter(pk=identity.pk).update(last_login_at=now)
        changed = {
            field: value
            for field, value in (
                ("first_name", person.first_name),
                ("last_name", person.last_name),
                ("email", person.email),
            )
            if value and getattr(user, field) != value
        }
        if changed:
            for field, value in changed.items():
                setattr(user, field, value)
            user.save(update_fields=list(changed))
        return user

    if person.email and person.email_verified:
        same_email = list(User.objects.filter(email__iexact=person.email)[:2])
        if len(same_email) > 1:
            raise SignInRefused(
                _(
                    "Several accounts here use %(email)s, so oncall cannot tell which one is "
                    "yours. Ask an admin to give each account its own email address."
                )
                % {"email": person.email},
                identity=(issuer, person.subject),
            )
        if same_email:
            user = same_email[0]
            if not linkable_by_email(user):
                raise SignInRefused(
                    _(
                        "An account with %(email)s exists here, but it is an administrator's "
                        "account or one that signs in with a password, and oncall never links "
                        "such an account to a %(provider)s sign-in by email address: whoever "
                        "controls that address at %(provider)s would get the account. Ask an "
                        "admin to link your %(provider)s identity to it by hand, with the "
                        "details below."
                    )
                    % {"email": person.email, "provider": settings.OIDC_PROVIDER_NAME},
                    identity=(issuer, person.subject),
                )
            if Identity.objects.filter(user=user, issuer=issuer).exists():
                raise SignInRefused(
                    _(
                        "The account with %(email)s is already linked to another person at "
                        "%(provider)s. Ask an admin to sort out which account is yours."
                    )
                    % {"email": person.email, "provider": settings.OIDC_PROVIDER_NAME},
                    identity=(issuer, person.subject),
                )
            Identity.objects.create(user=user, issuer=issuer, subject=person.subject)
            return user

    if User.objects.filter(username__iexact=person.username).exists():
        raise SignInRefused(
            _(
                "An account named “%(username)s” already exists here, and %(provider)s has not "
                "confirmed that its email address is yours, so oncall will not sign you in as "
                "that account. Ask an admin to link the two, or to confirm your email address "
                "at the identity provider."
            )
            % {"username": person.username, "provider": settings.OIDC_PROVIDER_NAME},
            identity=(issuer, person.subject),
        )
    user = User.objects.create_user(
        username=person.username,
        email=person.email,
        first_name=person.first_name,
        last_name=person.last_name,
    )
    Identity.objects.create(user=user, issuer=issuer, subject=person.subject)
    return user


def _setting(attr: str, *default):
    """mozilla-django-oidc's settings, answered from ours and from discovery."""
    ours = {
        "OIDC_RP_CLIENT_ID": lambda: settings.OIDC_CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": lambda: settings.OIDC_CLIENT_SECRET,
        "OIDC_RP_SCOPES": lambda: settings.OIDC_SCOPES,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": lambda: discover()["authorization_endpoint"],
        "OIDC_OP_TOKEN_ENDPOINT": lambda: discover()["token_endpoint"],
        "OIDC_OP_USER_ENDPOINT": lambda: discover().get("userinfo_endpoint"),
        "OIDC_OP_JWKS_ENDPOINT": lambda: discover()["jwks_uri"],
        "OIDC_AUTHENTICATION_CALLBACK_URL": lambda: "sso_callback",
        "OIDC_USE_PKCE": lambda: True,
        "OIDC_USE_NONCE": lambda: True,
        "OIDC_TOKEN_USE_BASIC_AUTH": lambda: True,
        "OIDC_STORE_ID_TOKEN": lambda: True,
        "OIDC_TIMEOUT": lambda: TIMEOUT,
        "OIDC_CREATE_USER": lambda: True,
    }
    if attr in ours:
        return ours[attr]()
    return import_from_settings(attr, *default)


class Backend(OIDCAuthenticationBackend):
    """The authentication backend for the OpenID Connect callback.

    It answers only the callback (which passes the flow's nonce); a password
    sign-in goes past it to PasswordBackend. Nothing is read from the provider
    when the backend is built: Django builds backends on every request that
    loads a user, and a provider that is down must not break those.
    """

    get_settings = staticmethod(_setting)

    def __init__(self, *args, **kwargs) -> None:
        self.UserModel = get_user_model()

    def get_user(self, user_id):
        # One statement per request (see accounts/backends.py). A deactivated
        # account is signed out, as PasswordBackend does for its sessions.
        user = user_by_id(user_id)
        return user if user is not None and user.is_active else None

    def authenticate(self, request, nonce=None, code_verifier=None, **kwargs):
        if request is None or nonce is None or not is_configured():
            return None
        metadata = discover()
        self.OIDC_OP_TOKEN_ENDPOINT = metadata["token_endpoint"]
        self.OIDC_OP_USER_ENDPOINT = metadata.get("userinfo_endpoint")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_CLIENT_SECRET
        try:
            return super().authenticate(request, nonce=nonce, code_verifier=code_verifier)
        except requests.RequestException as e:
            raise ProviderUnavailable(f"the identity provider did not answer: {e}") from e

    def raise_token_response_error(self, response) -> None:
        if response.status_code == 200:
            return
        if response.status_code >= 500:
            raise ProviderUnavailable(f"the token endpoint answered {response.status_code}")
        try:
            body = response.json()
            reason = body.get("error_description") or body.get("error") or ""
        except ValueError:
            reason = ""
        raise SignInRefused(
            _(
                "%(provider)s would not exchange the sign-in code (%(reason)s). "
                "A sign-in link works once and for a few minutes: start again."
            )
            % {"provider": settings.OIDC_PROVIDER_NAME, "reason": reason or response.status_code}
        )

    def verify_token(self, token, **kwargs) -> dict:
        return verify_id_token(token, nonce=kwargs.get("nonce"))

    def get_userinfo(self, access_token, id_token, payload) -> dict:
        if not self.OIDC_OP_USER_ENDPOINT or not access_token:
            return payload
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if not isinstance(userinfo, dict) or userinfo.get("sub") != payload.get("sub"):
            raise SignInRefused(
                _("The provider's userinfo answer is about someone else (sub differs).")
            )
        return {**payload, **userinfo}

    def get_or_create_user(self, access_token, id_token, payload):
        person = read_person(self.get_userinfo(access_token, id_token, payload))
        with transaction.atomic():
            user = user_for(person)
            if settings.OIDC_TEAM_GROUPS:
                sync_teams(user=user, groups=person.groups, mapping=settings.OIDC_TEAM_GROUPS)
        return user
