"""The language a person reads the site in: their profile's, else the browser's.

Django's LocaleMiddleware picks a language from the language cookie or the
Accept-Language header. A signed-in person whose profile names a language
gets that one instead: the choice is copied into the session when they sign
in and whenever they change it, so no page pays a query to find it.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

SESSION_KEY = "profile_language"
CODES = frozenset(code for code, _name in settings.LANGUAGES)


def remember(request: HttpRequest, language: str) -> None:
    """Keep a signed-in person's profile language for the rest of the session."""
    request.session[SESSION_KEY] = language if language in CODES else ""


def apply(request: HttpRequest, language: str) -> None:
    """Read the rest of this request in ``language`` (the page a change answers with)."""
    if language in CODES:
        translation.activate(language)
        request.LANGUAGE_CODE = language


@receiver(user_logged_in, dispatch_uid="teams_remember_language")
def on_sign_in(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        remember(request, user.profile.language)


def profile_language(get_response):
    """After LocaleMiddleware: a profile's language wins over cookie and browser."""

    def middleware(request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        # An anonymous visitor without a session cookie costs nothing here.
        if session is not None and session.session_key is not None:
            apply(request, session.get(SESSION_KEY, ""))
        return get_response(request)

    return middleware


@login_not_required
@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    """The language switch on every page: POST ``language`` (and ``next``).

    Signed out, the choice lives in the language cookie; signed in, it is also
    saved as the profile's language, so email, webhook and calendar follow it.
    """
    language = request.POST.get("language", "")
    if language not in CODES:
        return HttpResponseBadRequest(
            f"Unknown language {language[:20]!r}: choose one of {', '.join(sorted(CODES))}.",
            content_type="text/plain; charset=utf-8",
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    if request.user.is_authenticated:
        profile = request.user.profile
        profile.language = language
        profile.save(update_fields=["language"])
        remember(request, language)
    response = redirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 60 * 60,
        samesite="Lax",
        secure=request.is_secure(),
        httponly=True,
    )
    return response


def language_of(user) -> str:
    """The language to write to ``user`` in where no browser asks (email, webhook, calendar):
    their profile's, else the site's default."""
    profile = getattr(user, "profile", None)
    language = getattr(profile, "language", "")
    return language if language in CODES else settings.LANGUAGE_CODE


def speaking(user) -> translation.override:
    """``with speaking(recipient):`` builds a text in the recipient's language."""
    return translation.override(language_of(user))
