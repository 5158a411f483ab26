"""gunicorn settings for oncall's web process (see docs/deploy.md).

- Metrics across workers: prometheus-client's multiprocess mode. Every worker
  writes its request counts to files in ``PROMETHEUS_MULTIPROC_DIR`` and
  /metrics adds them up. The folder is chosen here, before any worker starts
  (the library reads the variable when it is first imported), emptied when
  gunicorn starts, and a dead worker's live gauges are dropped.
- Access logs without secrets: a calendar feed's URL holds its owner's token,
  so the logger writes ``/shifts/feed/<token>`` instead.

Command-line flags (bind, workers, log files) still apply on top of this file.
"""

import os
from pathlib import Path

from gunicorn.glogging import Logger

from oncall.teams.redact import redact

_var = Path(os.environ.get("ONCALL_VAR_DIR") or Path(__file__).resolve().parent / "var")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_var / "prometheus"))
MULTIPROC_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])


class MaskingLogger(Logger):
    """gunicorn's logger, with calendar tokens masked in every access log field."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()
        }


logger_class = MaskingLogger


def on_starting(server):
    # Files left by a previous run would add its counts to this one's.
    MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
    for stale in MULTIPROC_DIR.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    # Imported here, not at the top: the master must not load prometheus_client
    # before PROMETHEUS_MULTIPROC_DIR is settled above (it reads it on import).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
