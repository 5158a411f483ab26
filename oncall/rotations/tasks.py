import logging

from celery import shared_task

from oncall.rotations import read

logger = logging.getLogger(__name__)


@shared_task(max_retries=0)
def read_due() -> int:
    """Read the rotation feeds whose poll interval has passed; returns how many were read."""
    results = read.read_due()
    for result in results:
        logger.info("%s", result.line())
    return len(results)


@shared_task(max_retries=0)
def read_one(rotation_id: int) -> None:
    """Read one rotation now (a lead asked); a rotation deleted meanwhile is skipped."""
    rotation = read.Rotation.objects.select_related("team").filter(pk=rotation_id).first()
    if rotation is not None:
        for result in read.read_rotations([rotation]):
            logger.info("%s", result.line())
