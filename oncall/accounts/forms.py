from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from oncall.accounts import throttle
from oncall.core.addresses import client_address


class SignInForm(AuthenticationForm):
    """Username and password, with throttling and LOCAL_LOGIN's break-glass rule."""

    keep = forms.BooleanField(label=_("Keep me signed in on this device"), required=False)

    error_messages = {
        **AuthenticationForm.error_messages,
        "local_login_off": _(
            "Password sign-in is turned off here: sign in with %(provider)s. "
            "(Staff with break-glass access may still use a password.)"
        ),
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not (username and password):
            return self.cleaned_data
        address = client_address(self.request)
        # Refused before authenticate(): a throttled attempt costs no password hashing.
        wait = throttle.seconds_blocked(username=username, address=address)
        if wait:
            minutes = max(1, -(-wait // 60))
            raise ValidationError(
                ngettext(
                    "Too many sign-in attempts. Try again in %(n)d minute.",
                    "Too many sign-in attempts. Try again in %(n)d minutes.",
                    minutes,
                )
                % {"n": minutes},
                code="throttled",
            )
        try:
            super().clean()
        except ValidationError as e:
            if e.code == "invalid_login":
                throttle.record_failure(username=username, address=address)
            raise
        throttle.record_success(username=username)
        return self.cleaned_data

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not settings.LOCAL_LOGIN and not (
            user.is_staff and user.has_perm("accounts.break_glass")
        ):
            raise ValidationError(
                self.error_messages["local_login_off"],
                code="local_login_off",
                params={"provider": settings.OIDC_PROVIDER_NAME},
            )


class AddMemberForm(forms.Form):
    person = forms.CharField(
        label=_("Username or email"),
        max_length=254,
        help_text=_("Someone who has signed in to oncall at least once."),
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_person(self):
        value = self.cleaned_data["person"].strip()
        User = get_user_model()
        found = list(User.objects.filter(username__iexact=value, is_active=True)[:2])
        if not found and "@" in value:
            found = list(User.objects.filter(email__iexact=value, is_active=True)[:2])
        if not found:
            raise ValidationError(
                _(
                    "Nobody called “%(value)s” has signed in to oncall yet. "
                    "Ask them to sign in once, then add them."
                ),
                params={"value": value},
            )
        if len(found) > 1:
            raise ValidationError(
                _("Several people use “%(value)s”: type their username instead."),
                params={"value": value},
            )
        user = found[0]
        if self.team.memberships.filter(user=user).exists():
            raise ValidationError(
                _("%(user)s is already in %(team)s."),
                params={"user": user.get_username(), "team": self.team.name},
            )
        return user
