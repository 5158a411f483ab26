from celery import shared_task
from django.utils import timezone

from oncall.teams.models import Heartbeat


@shared_task(name="oncall.teams.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Run by beat every minute; /healthz reads the time it leaves."""
    Heartbeat.objects.update_or_create(name="beat", defaults={"at": timezone.now()})
