"""Demo reminders: nothing invented, only planned from the demo's shifts and runbooks.

Planning once here fills the in-app list straight away and says when the
worker's console will show the next shift reminder; beat keeps planning
every minute after that.
"""

from django.utils import timezone

from oncall.reminders.models import Reminder
from oncall.reminders.plan import plan_reminders


def seed(out) -> None:
    result = plan_reminders()
    if result.created:
        out(f"{result.created} reminders planned from the demo data")
    now = timezone.now()
    due_now = Reminder.objects.filter(state=Reminder.State.PENDING, next_attempt_at__lte=now)
    if due_now.exists():
        out(f"{due_now.count()} reminders are due now: the worker prints them within 30 s")
    upcoming = (
        Reminder.objects.filter(
            kind=Reminder.Kind.SHIFT_UPCOMING,
            state=Reminder.State.PENDING,
            recipient__username="trainee",
            next_attempt_at__gt=now,
        )
        .select_related("recipient__profile")
        .order_by("next_attempt_at")
        .first()
    )
    if upcoming is not None:
        when = upcoming.next_attempt_at.astimezone(upcoming.recipient.profile.tz)
        out(f"next shift reminder for trainee at {when:%a %d %b %H:%M %Z}: {upcoming.subject}")
