"""The Celery app: broker and defaults come from settings (CELERY_ namespace).

Broker: Redis when REDIS_URL is set, otherwise kombu's filesystem transport
under var/broker/. Tasks take primary keys, re-fetch their rows and return
quietly when a row is gone; the database is the store of record.
"""

import os

from celery import Celery
from celery.schedules import crontab  # noqa: F401 - for schedule entries below

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oncall.settings")

app = Celery("oncall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The beat schedule lives in code, in UTC. Exactly one beat may run (see
# docs/deploy.md); workers can be many.
app.conf.beat_schedule = {
    "heartbeat": {"task": "oncall.teams.tasks.heartbeat", "schedule": 60.0},
    # Reminders: plan from the current state every minute, send what is due
    # every 30 s. Each message expires before the next one is sent, so a
    # queue that backed up while workers were away does not replay them all.
    "reminders-plan": {
        "task": "oncall.reminders.tasks.plan",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Stored readiness is reconciled with every change that moves it; this is
    # the safety net for anything that changed the database some other way.
    "readiness-reconcile": {
        "task": "oncall.readiness.tasks.reconcile",
        "schedule": 600.0,
        "options": {"expires": 590},
    },
    "reminders-dispatch": {
        "task": "oncall.reminders.tasks.dispatch",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # Drills: start those due and play each step at its offset (see
    # oncall/drills/replay.py); a step is claimed by a row, so ticks that
    # overlap or a worker killed mid-step neither double nor lose one.
    "drills-replay": {
        "task": "oncall.drills.tasks.replay",
        "schedule": 1.0,
        "options": {"expires": 5},
    },
    # Sessions past their end: nothing else deletes them.
    "accounts-clear-expired-sessions": {
        "task": "oncall.accounts.tasks.clear_expired_sessions",
        "schedule": 24 * 60 * 60.0,
        "options": {"expires": 60 * 60},
    },
    # Runbook syncs whose worker or message was lost end as failed, with why.
    "runbooks-sweep-stuck-syncs": {
        "task": "oncall.runbooks.tasks.sweep_stuck_syncs",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
}
