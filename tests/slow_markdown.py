"""A python-markdown extension that makes a render as slow as the text says.

The render time limit, the renderer process's own timer and everything the
sync does with a slow file are tested with this instead of an input that some
version of python-markdown happens to render slowly. Load it with the setting
``RUNBOOK_MARKDOWN_EXTENSIONS = [EXTENSION]`` (see the ``slow_markdown``
fixture); without it the marker is ordinary text.

A line ``%%slow SECONDS%%`` keeps the renderer busy (on the CPU, as a
pathological input would) for that many seconds. ``%%slow SECONDS PATH%%``
first creates the file PATH, so a test can wait for the moment the renderer
has started on that text instead of guessing it with a sleep.
"""

import re
import time
from pathlib import Path

from markdown import Markdown
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

EXTENSION = "tests.slow_markdown:SlowExtension"
MARKER = re.compile(r"^%%slow (?P<seconds>[0-9.]+)(?: (?P<started>\S+))?%%$")


def marker(seconds: float, started: Path | None = None) -> str:
    """The line that makes a render take ``seconds`` (and say so in ``started``)."""
    return f"%%slow {seconds:g}{f' {started}' if started else ''}%%"


def spin(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


class SlowPreprocessor(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        kept = []
        for line in lines:
            found = MARKER.match(line)
            if not found:
                kept.append(line)
                continue
            if found.group("started"):
                Path(found.group("started")).touch()
            spin(float(found.group("seconds")))
        return kept


class SlowExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - markdown's API
        md.preprocessors.register(SlowPreprocessor(md), "oncall_tests_slow", 100)
