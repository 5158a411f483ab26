from celery import shared_task
from django.utils import timezone

from oncall.accounts.models import Session


@shared_task(name="oncall.accounts.tasks.clear_expired_sessions", ignore_result=True)
def clear_expired_sessions() -> int:
    """Delete sessions past their end (daily, by beat): Django never does it by itself."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
