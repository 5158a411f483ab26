"""The periodic safety net for stored readiness (see ``reconcile``)."""

import logging

from celery import shared_task

from oncall.readiness.reconcile import reconcile_all

logger = logging.getLogger(__name__)


@shared_task(name="oncall.readiness.tasks.reconcile", ignore_result=True, max_retries=0)
def reconcile() -> None:
    """Every few minutes: every onboarding's stored state agrees with the gate."""
    done, failed = reconcile_all()
    logger.info("reconciled %d onboardings, %d failed", done, failed)
