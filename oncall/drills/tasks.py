import logging

from celery import shared_task

from oncall.drills.replay import replay as replay_now

REPLAY_TASK = "oncall.drills.tasks.replay"


class QuietIdleTicks(logging.Filter):
    """Keep the worker's log readable with a replay tick every second.

    Celery logs two INFO lines per task: "received" and "succeeded … : <return
    value>". For the replay tick this drops "received" always and "succeeded"
    when the tick played no step (its return value is 0); a tick that played
    steps still logs its line with the count, and a failure is logged as ever
    (it is not an INFO success line). On beat's logger it drops the line
    "Sending due task drills-replay" of every second.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            # Beat's "Sending due task drills-replay (oncall.drills.tasks.replay)".
            return REPLAY_TASK not in record.args
        context = record.args if isinstance(record.args, dict) else None
        if not context or context.get("name") != REPLAY_TASK:
            return True
        if "return_value" not in context:
            return False  # "received"
        return str(context["return_value"]) != "0"


# The loggers of Celery's lines; the worker imports this module when it starts.
for name in ("celery.worker.strategy", "celery.app.trace", "celery.beat"):
    logging.getLogger(name).addFilter(QuietIdleTicks())


@shared_task(name=REPLAY_TASK, max_retries=0)
def replay() -> int:
    """Beat, every second: start due drills and play their due steps (see replay.py)."""
    return replay_now()
