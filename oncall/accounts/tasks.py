from celery import shared_task

from oncall.accounts.sessions import clear_ended


@shared_task(name="oncall.accounts.tasks.clear_expired_sessions", ignore_result=True)
def clear_expired_sessions() -> int:
    """Delete sessions past their end (daily, by beat): Django never does it by itself."""
    return clear_ended()
