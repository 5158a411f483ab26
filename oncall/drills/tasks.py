import logging

from celery import shared_task

from oncall.drills.replay import replay as replay_now

log = logging.getLogger(__name__)


@shared_task(max_retries=0)
def replay() -> int:
    """Beat, every second: start due drills and play their due steps (see replay.py)."""
    return replay_now()
