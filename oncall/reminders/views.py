import uuid
import zoneinfo
from datetime import UTC, timedelta, tzinfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from oncall.reminders import channels, tasks
from oncall.reminders.models import Reminder
from oncall.reminders.plan import absolute_url, channels_for
from oncall.teams import ratelimit
from oncall.teams.views import too_many

RECENT = 50
UPCOMING = 20
# Each test sends real email and calls a webhook: enough to try a fix or two,
# not enough to turn the app into someone's mail cannon.
TEST_LIMIT = ratelimit.Limit("reminder-test", count=3, period=timedelta(minutes=10))


def _shown_in(profile) -> tzinfo:
    """The profile's time zone, or UTC when it names a zone tzdata no longer has.

    This is the page that says why such a person's reminders failed; it must open.
    """
    try:
        return profile.tz
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


@login_required
def reminder_list(request: HttpRequest) -> HttpResponse:
    """My reminders: what is planned next, and what was sent or failed lately."""
    mine = Reminder.objects.filter(recipient=request.user)
    upcoming = mine.filter(state__in=[Reminder.State.PENDING, Reminder.State.SENDING]).order_by(
        "next_attempt_at", "pk"
    )[:UPCOMING]
    recent = mine.filter(state__in=[Reminder.State.SENT, Reminder.State.FAILED]).order_by(
        "-updated_at", "-pk"
    )[:RECENT]
    return render(
        request,
        "reminders/list.html",
        {"upcoming": upcoming, "recent": recent, "tz": _shown_in(request.user.profile)},
    )


@login_required
@require_POST
def send_test(request: HttpRequest) -> HttpResponse:
    """Send a test reminder through each channel I have switched on, right now."""
    user = request.user
    decision = ratelimit.hit(TEST_LIMIT, user.pk)
    if not decision.allowed:
        sent = _("You sent %(count)d tests in the last %(minutes)d minutes.") % {
            "count": TEST_LIMIT.count,
            "minutes": TEST_LIMIT.seconds // 60,
        }
        return too_many(request, sent, decision)
    enabled = channels_for(user)
    if not enabled:
        messages.error(request, _("Switch on email or a webhook first, then send a test."))
        return redirect("profile")
    if Reminder.Channel.WEBHOOK in enabled:
        try:
            channels.resolve_webhook(user.profile.webhook_url)
        except channels.DeliveryError as e:
            messages.error(request, _("Your webhook cannot be called: %(error)s") % {"error": e})
            enabled.remove(Reminder.Channel.WEBHOOK)
    now = timezone.now()
    test_id = uuid.uuid4().hex
    with transaction.atomic():
        for channel in enabled:
            Reminder.objects.create(
                recipient=user,
                kind=Reminder.Kind.TEST,
                channel=channel,
                due_at=now,
                next_attempt_at=now,
                dedupe_key=f"test:{test_id}:user:{user.pk}:{channel}",
                subject=_("Test reminder from oncall"),
                body=_("If you can read this, reminders reach you here."),
                link=absolute_url("/reminders/"),
                payload={"kind": Reminder.Kind.TEST},
            )
        transaction.on_commit(tasks.enqueue_dispatch)
    if enabled:
        messages.success(
            request,
            _("A test is on its way by %(channels)s. See it under My reminders.")
            % {"channels": ", ".join(str(Reminder.Channel(c).label) for c in enabled)},
        )
    return redirect("profile")
