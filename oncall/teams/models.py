import secrets
import zoneinfo
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oncall.teams.names import validate_printable

ESCALATION_NOTE_MAX = 5000

DEFAULT_LEAD_TIMES = [24 * 60, 60]  # minutes before a shift: 24 h and 1 h

# Each language named in itself, so a reader finds their own whatever is shown.
LANGUAGE_CHOICES = [("en", "English"), ("ja", "日本語")]


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    names = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
    return [(name, name.replace("_", " ")) for name in names]


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("%(value)s is not a time zone (for example Europe/London)."),
            params={"value": value},
        ) from None


def new_calendar_token() -> str:
    # 32 random bytes, URL-safe: the only secret guarding a calendar feed.
    return secrets.token_urlsafe(32)


class Team(models.Model):
    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=100, validators=[validate_printable])
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )
    # Who to page when no runbook answers: markdown, edited by the team's leads,
    # shown first on the no-runbook page.
    escalation_note = models.TextField(
        _("escalation note"),
        blank=True,
        db_default="",
        validators=[MaxLengthValidator(ESCALATION_NOTE_MAX)],
        help_text=_("Markdown: who to page when no runbook answers, e.g. the team's channel."),
    )
    # Reverse shadow: the backing primary hears of a page only when the trainee
    # has not acknowledged it within this many minutes.
    escalation_delay = models.PositiveSmallIntegerField(
        _("escalation delay (minutes)"),
        default=5,
        db_default=5,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text=_(
            "On a reverse-shadow shift, the primary is told of a page the trainee "
            "has not acknowledged within this many minutes."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def leads(self) -> models.QuerySet:
        return self.members.filter(membership__role=Membership.Role.LEAD)


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", _("member")
        LEAD = "lead", _("lead")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("team")
    )
    role = models.CharField(_("role"), max_length=10, choices=Role, default=Role.MEMBER)
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")
        ]
        ordering = ["team__name", "user__username"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return gettext("%(user)s in %(team)s (%(role)s)") % {
            "user": self.user,
            "team": self.team,
            "role": self.get_role_display(),
        }

    @property
    def is_lead(self) -> bool:
        return self.role == self.Role.LEAD


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="profile",
        verbose_name=_("user"),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=LANGUAGE_CHOICES,
        help_text=_("Empty: follow the browser's language."),
    )
    calendar_token = models.CharField(
        max_length=64, unique=True, default=new_calendar_token, verbose_name=_("calendar token")
    )
    # Reminder preferences.
    lead_times = models.JSONField(
        _("reminder lead times (minutes before a shift)"), default=list, blank=True
    )
    quiet_start = models.TimeField(_("quiet hours start"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours end"), null=True, blank=True)
    email_enabled = models.BooleanField(_("email reminders"), default=True)
    webhook_enabled = models.BooleanField(_("webhook reminders"), default=False)
    webhook_url = models.URLField(_("webhook URL"), blank=True, max_length=500)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return gettext("profile of %(user)s") % {"user": self.user}

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def reminder_lead_times(self) -> list[timedelta]:
        minutes = self.lead_times or DEFAULT_LEAD_TIMES
        return [timedelta(minutes=m) for m in sorted(set(minutes), reverse=True)]

    def regenerate_calendar_token(self) -> None:
        self.calendar_token = new_calendar_token()
        self.save(update_fields=["calendar_token"])

    def quiet_until(self, moment: datetime) -> datetime | None:
        """The end of the quiet window that ``moment`` falls in, or None.

        1. With no window set, nothing is quiet.
        2. The window is read in the profile's time zone, on the local date of
           ``moment``; a window whose start is after its end runs overnight.
        3. The end is returned as an aware datetime in UTC.
        """
        if self.quiet_start is None or self.quiet_end is None or self.quiet_start == self.quiet_end:
            return None
        local = moment.astimezone(self.tz)
        now_t = local.time()
        start, end = self.quiet_start, self.quiet_end
        if start < end:
            inside = start <= now_t < end
            end_date = local.date()
        else:
            inside = now_t >= start or now_t < end
            end_date = local.date() + timedelta(days=1) if now_t >= start else local.date()
        if not inside:
            return None
        end_local = datetime.combine(end_date, end, tzinfo=self.tz)
        return end_local.astimezone(zoneinfo.ZoneInfo("UTC"))


class Heartbeat(models.Model):
    """The last time a periodic task ran: proof that beat, broker and a worker live."""

    name = models.CharField(max_length=50, unique=True, verbose_name=_("name"))
    at = models.DateTimeField(verbose_name=_("at"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return gettext("%(name)s at %(when)s") % {
            "name": self.name,
            "when": f"{self.at:%Y-%m-%d %H:%M:%S}",
        }
