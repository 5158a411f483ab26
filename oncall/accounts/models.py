from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oncall.teams.models import Membership, Team


class Identity(models.Model):
    """A person at the identity provider (issuer + subject) and the local user they sign in as.

    Matching on the subject, never on a name or an email that can be reused,
    keeps a renamed or re-addressed person on the same account.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="identities",
        verbose_name=_("user"),
    )
    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    created_at = models.DateTimeField(_("first sign-in"), default=timezone.now)
    last_login_at = models.DateTimeField(_("last sign-in"), default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="identity_unique_subject")
        ]
        permissions = [
            (
                "break_glass",
                _("May sign in with a password when single sign-on is the only way in"),
            )
        ]
        verbose_name = _("identity")
        verbose_name_plural = _("identities")

    def __str__(self) -> str:
        return gettext("%(subject)s at %(issuer)s") % {
            "subject": self.subject,
            "issuer": self.issuer,
        }


class MembershipChange(models.Model):
    """Who joined or left a team, in which role, and who or what did it."""

    class Action(models.TextChoices):
        ADDED = "added", _("added")
        ROLE_CHANGED = "role_changed", _("role changed")
        REMOVED = "removed", _("removed")

    class Source(models.TextChoices):
        IDENTITY_PROVIDER = "idp", _("identity provider groups")
        LEAD = "lead", _("a lead")

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="membership_changes", verbose_name=_("team")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="membership_changes",
        verbose_name=_("user"),
    )
    action = models.CharField(_("action"), max_length=20, choices=Action)
    role = models.CharField(_("role"), max_length=10, choices=Membership.Role)
    source = models.CharField(_("source"), max_length=10, choices=Source)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    groups = models.TextField(_("groups"), blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["team", "-at"])]
        verbose_name = _("membership change")
        verbose_name_plural = _("membership changes")

    def __str__(self) -> str:
        return gettext("%(user)s %(action)s in %(team)s (%(role)s)") % {
            "user": self.user,
            "action": self.get_action_display(),
            "team": self.team,
            "role": self.role,
        }


class Session(AbstractBaseSession):
    """Django's session row, with the signed-in user's id in a column of its own.

    The session's data stays the authority on who is signed in (Django checks
    it and the user's password hash on every request); the column lets one
    statement read a session together with its user (oncall/accounts/
    sessions.py). Deleting a user deletes their sessions. No database
    constraint: a session is saved whatever the user table holds meanwhile.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="+",
    )

    @classmethod
    def get_session_store_class(cls):
        from oncall.accounts.sessions import SessionStore

        return SessionStore
