"""Where browser tests save their screenshots.

A test run changes no file of the project: screenshots go to a temporary
folder unless ``ONCALL_SCREENSHOTS`` names one (``docs/screenshots`` to
refresh the pictures the docs and notes show).
"""

import os
import tempfile
from functools import cache
from pathlib import Path


@cache
def shots_folder() -> Path:
    chosen = os.environ.get("ONCALL_SCREENSHOTS")
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="oncall-screenshots-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
