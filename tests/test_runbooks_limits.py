"""One bad runbook file fails alone: bounded rendering, front matter ranges, reserved slugs.

The render time limit is tested by construction: the ``slow_markdown``
fixture loads a markdown extension of the tests' own (tests/slow_markdown.py)
that keeps the renderer busy for as long as the text says, so the limit, the
renderer process's timer, its replacement and what the sync does with a slow
file are the production code under test whatever python-markdown version is
installed. Inputs that some version rendered slowly are kept as a regression
corpus that must render or be refused with a named reason, in bounded time.

Rendering runs under a wall-clock guard (SIGALRM in the test's thread), so a
regression fails in seconds instead of hanging the suite.
"""

import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import yaml
from django.db import connection, connections
from django.urls import reverse

from oncall.runbooks import render
from oncall.runbooks.models import Runbook
from oncall.runbooks.render import (
    MAX_NESTING,
    RENDER_SECONDS,
    STARTUP_SECONDS,
    RenderRefused,
    nesting_depth,
    render_markdown,
)
from oncall.runbooks.sync import sync_folders
from tests.html_elements import elements
from tests.slow_markdown import EXTENSION, marker

NESTED = "# Nested\n\n" + "".join(" " * (4 * level) + "- item\n" for level in range(600))
GOOD = "# Disk full\n\nGrow the volume.\n"
# Far longer than the 2 s limit: a render of it ends only by the limit.
SLOW = "# Slow\n\n" + marker(120) + "\n"
# The wall-clock guards catch a hang, they measure nothing: each allows for a
# renderer process to start on a loaded machine (STARTUP_SECONDS), and stays
# far below the slow marker's 120 s, so a missing limit still fails.
GUARD = STARTUP_SECONDS + 15


class TooSlow(AssertionError):
    pass


@contextmanager
def wall_clock(seconds: float):
    """Fail the test (raise TooSlow in this thread) when the block runs longer."""

    def expire(signum, frame):
        raise TooSlow(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def write(root: Path, relative: str, content: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def wait_for(path: Path, seconds: float = GUARD) -> None:
    """Until ``path`` exists: the renderer has started on the text that names it."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise TooSlow(f"{path} did not appear within {seconds} s")
        time.sleep(0.01)


@pytest.fixture
def slow_markdown(settings):
    """The renderer loads the tests' slow extension: ``marker(s)`` takes s seconds."""
    settings.RUNBOOK_MARKDOWN_EXTENSIONS = [EXTENSION]


# -- rendering ---------------------------------------------------------------------------------


def test_it_stops_a_render_after_two_seconds(slow_markdown):
    with wall_clock(GUARD), pytest.raises(RenderRefused, match="took longer than 2 s to render"):
        render_markdown(SLOW)
    # The renderer process was replaced: the next render works.
    with wall_clock(GUARD):
        assert render_markdown("# Next\n").first_heading == "Next"


def test_a_render_within_its_limit_is_not_refused(slow_markdown):
    """The extension is as slow as it is told: under the limit, the text renders."""
    rendered = render_markdown("# Quick\n\n" + marker(0.3) + "\n\nDone.\n")
    assert rendered.first_heading == "Quick"
    assert "Done." in rendered.text and "%%slow" not in rendered.text


def test_the_slow_marker_is_plain_text_unless_the_setting_loads_the_extension():
    with wall_clock(GUARD):
        rendered = render_markdown(SLOW)
    assert marker(120) in rendered.text


def test_it_refuses_deep_nesting_before_rendering():
    with (
        wall_clock(GUARD),
        pytest.raises(RenderRefused, match=r"nesting deeper than 50 levels \(599\)"),
    ):
        render_markdown(NESTED)


def test_nesting_counts_lists_quotes_and_tabs_but_not_fenced_code():
    assert nesting_depth("- a\n    - b\n        - c\n") == 2
    assert nesting_depth("> > > quoted\n") == 3
    assert nesting_depth("\t\t- two tabs\n") == 2
    assert nesting_depth("```\n" + " " * 400 + "code\n```\n") == 0
    exactly = "".join(" " * (4 * level) + "- item\n" for level in range(MAX_NESTING + 1))
    assert len(elements(render_markdown(exactly).html, "ul")) == MAX_NESTING + 1


def test_short_markdown_has_a_length_limit_of_its_own():
    """How another app renders a description: the same bounds, with its own length."""
    rendered = render_markdown("Run `make test` — see [disk](payments-db/disk.md).", max_chars=2000)
    assert elements(rendered.html, "a", href="/runbooks/payments-db/disk/")
    with pytest.raises(RenderRefused, match=r"longer than 2000 characters \(2001\)"):
        render_markdown("x" * 2001, max_chars=2000)


def test_rendering_in_the_renderer_process_matches_the_link_rules():
    rendered = render_markdown("[a](../other/Page.md#fix) [b](x y.md)", page_dir="svc/sub")
    assert f'href="{reverse("runbooks:detail", args=["svc/other/page"])}#fix"' in rendered.html
    assert f'href="{reverse("runbooks:detail", args=["svc/sub/x y"])}"' in rendered.html


# -- the sync ----------------------------------------------------------------------------------


def test_a_slow_file_is_named_and_its_previous_revision_stays_served(
    db, tmp_path, client_for, trainee, slow_markdown
):
    path = write(tmp_path, "svc/slow.md", GOOD)
    assert sync_folders([tmp_path]).ok
    path.write_text(SLOW)
    with wall_clock(GUARD):
        report = sync_folders([tmp_path])
    assert report.errors == [f"{path}: took longer than 2 s to render"]
    runbook = Runbook.objects.get(slug="svc/slow")
    assert runbook.current_revision.number == 1
    response = client_for(trainee).get(runbook.get_absolute_url())
    assert response.status_code == 200
    assert "Grow the volume." in response.content.decode()


def test_600_nested_levels_fail_alone(db, tmp_path):
    write(tmp_path, "svc/deep.md", NESTED)
    write(tmp_path, "svc/good.md", GOOD)
    with wall_clock(GUARD):
        report = sync_folders([tmp_path])
    assert report.errors == [f"{tmp_path}/svc/deep.md: nesting deeper than 50 levels (599)"]
    assert report.created == 1
    assert list(Runbook.objects.values_list("slug", flat=True)) == ["svc/good"]


def test_an_index_file_is_bounded_too(db, tmp_path):
    write(tmp_path, "svc/_index.md", NESTED)
    write(tmp_path, "svc/good.md", GOOD)
    report = sync_folders([tmp_path])
    assert report.errors == [f"{tmp_path}/svc/_index.md: nesting deeper than 50 levels (599)"]
    assert report.created == 1


@pytest.mark.django_db(transaction=True)
def test_nobody_waits_for_the_write_lock_while_a_file_renders(tmp_path, slow_markdown):
    """A trainee's write goes through while the sync renders a slow file.

    ``a.md`` changes and sorts before the slow file, so a sync that renders
    inside its write transaction holds the lock (SQLite) or a.md's row
    (PostgreSQL) for the whole render, and the write below fails or waits.
    The write starts once the renderer has started on slow.md.
    """
    folder = tmp_path / "runbooks"
    render_started = tmp_path / "slow-render-started"
    write(folder, "svc/a.md", GOOD)
    assert sync_folders([folder]).ok
    write(folder, "svc/a.md", GOOD + "\nAnd check the alert.\n")
    write(folder, "svc/slow.md", "# Slow\n\n" + marker(120, render_started) + "\n")
    render_markdown("warm")  # the renderer process is running before the clock starts
    outcome = {}

    def trainee_writes():
        try:
            wait_for(render_started)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '1s'")
            started = time.monotonic()
            Runbook.objects.filter(slug="svc/a").update(owner="trainee")
            outcome["seconds"] = time.monotonic() - started
        except Exception as e:  # noqa: BLE001 - the failure is what the test reports
            outcome["error"] = e
        finally:
            connections.close_all()

    writer = threading.Thread(target=trainee_writes)
    writer.start()
    with wall_clock(GUARD):
        report = sync_folders([folder])
    writer.join()
    assert "error" not in outcome, outcome
    assert outcome["seconds"] < 1.5  # it never waited for the sync's transaction
    assert report.updated == 1 and report.failed == 1


def test_any_error_while_reading_one_file_fails_that_file_alone(db, tmp_path, monkeypatch, caplog):
    """An error nobody foresaw (here from the YAML library) is caught per file."""
    load = yaml.load

    def flaky_load(text, Loader):  # noqa: N803 - PyYAML's keyword
        if "explode" in text:
            raise ZeroDivisionError("division by zero")
        return load(text, Loader=Loader)

    monkeypatch.setattr(yaml, "load", flaky_load)
    write(tmp_path, "svc/a.md", "---\ntitle: explode\n---\n# A\n")
    write(tmp_path, "svc/b.md", GOOD)
    report = sync_folders([tmp_path])
    assert report.errors == [
        f"{tmp_path}/svc/a.md: could not be imported (ZeroDivisionError: division by zero)"
    ]
    assert report.created == 1
    assert "svc/a.md" in caplog.text and "ZeroDivisionError" in caplog.text


def test_a_huge_integer_fails_its_file_and_the_rest_imports(db, tmp_path):
    write(tmp_path, "svc/huge.md", "---\nreview_every: 100000000000000000000\n---\n# Huge\n")
    write(tmp_path, "svc/tags.md", "---\ntags: [100000000000000000000]\n---\n# Tags\n")
    write(tmp_path, "svc/good.md", GOOD)
    report = sync_folders([tmp_path])
    assert sorted(report.errors) == [
        f"{tmp_path}/svc/huge.md: review_every must be between 1 and 3650 days (not more)",
        f"{tmp_path}/svc/tags.md: tags: the number is too large",
    ]
    assert report.created == 1


@pytest.mark.parametrize(
    ("front_matter", "reason"),
    [
        ("review_every: 4000000", "review_every must be between 1 and 3650 days (not 4000000)"),
        ("review_every: 0", "review_every must be between 1 and 3650 days (not 0)"),
        ("review_every: 3651", "review_every must be between 1 and 3650 days (not 3651)"),
        (
            "last_reviewed: 9999-12-31",
            "last_reviewed must be a date between 2000-01-01 and 2999-12-31 (not 9999-12-31)",
        ),
        (
            "last_reviewed: 1999-12-31",
            "last_reviewed must be a date between 2000-01-01 and 2999-12-31 (not 1999-12-31)",
        ),
        ("title: " + "t" * 301, "title is longer than 300 characters (301)"),
        ("team: " + "t" * 51, "team is longer than 50 characters (51)"),
        ("service: " + "s" * 101, "service is longer than 100 characters (101)"),
        ("owner: " + "o" * 151, "owner is longer than 150 characters (151)"),
        ("title: 100000000000000000000", "title: the number is too large"),
        (
            "tags: [" + ", ".join(f"t{i}" for i in range(51)) + "]",
            "tags has more than 50 entries (51)",
        ),
        ("tags: [" + "t" * 101 + "]", "tags: an entry is longer than 100 characters (101)"),
        (
            "alerts: [" + ", ".join(f"A{i}" for i in range(101)) + "]",
            "alerts has more than 100 entries (101)",
        ),
        ("alerts: [" + "A" * 201 + "]", "alerts: an entry is longer than 200 characters (201)"),
        ("title: " + "[" * 5000, "front matter is not valid YAML (line 2)"),
        ("review_every: " + "9" * 5000, "review_every must be between 1 and 3650 days (not more)"),
        ("review_every: -" + "9" * 5000, "review_every must be between 1 and 3650 days (not more)"),
        ("title: " + "9" * 5000, "title: the number is too large"),
        ("tags: [" + "9" * 5000 + "]", "tags: the number is too large"),
        ("last_reviewed: 2026-13-45", "last_reviewed must be a date like 2026-10-01"),
        ('title: "a\\0b"', "title holds a NUL character"),
        ('alerts: ["Disk\\0Full"]', "alerts holds a NUL character"),
    ],
)
def test_front_matter_out_of_range_is_a_named_bad_file(db, tmp_path, front_matter, reason):
    path = write(tmp_path, "svc/bad.md", f"---\n{front_matter}\n---\n# Bad\n")
    write(tmp_path, "svc/good.md", GOOD)
    report = sync_folders([tmp_path])
    assert report.errors == [f"{path}: {reason}"]
    assert report.created == 1


def test_a_number_too_long_to_read_fails_its_file_without_a_traceback(db, tmp_path, caplog):
    """Python refuses to read more than 4,300 digits: the file is out of range like
    any other too large number, said once at INFO, not an error with a traceback."""
    path = write(tmp_path, "svc/long.md", "---\nreview_every: " + "9" * 5000 + "\n---\n# Long\n")
    with caplog.at_level("INFO", logger="oncall.runbooks.sync"):
        report = sync_folders([tmp_path])
    assert report.errors == [f"{path}: review_every must be between 1 and 3650 days (not more)"]
    logged = [record for record in caplog.records if "svc/long.md" in record.getMessage()]
    assert [(record.levelname, record.exc_info) for record in logged] == [("INFO", None)]


def test_front_matter_at_the_edges_of_its_ranges_imports(db, tmp_path):
    write(
        tmp_path,
        "svc/edge.md",
        "---\nreview_every: 3650\nlast_reviewed: 2999-12-31\ntitle: " + "t" * 300 + "\n---\n",
    )
    write(tmp_path, "svc/low.md", "---\nreview_every: 1\nlast_reviewed: 2000-01-01\n---\n")
    assert sync_folders([tmp_path]).ok
    edge = Runbook.objects.get(slug="svc/edge")
    assert (edge.review_every, edge.last_reviewed) == (3650, date(2999, 12, 31))
    assert edge.review_due_on() == date(3009, 12, 29)  # in range never overflows


def test_a_file_holding_nul_characters_is_a_named_bad_file(db, tmp_path):
    path = write(tmp_path, "svc/nul.md", "# Nul\n\nbefore\x00after\n")
    report = sync_folders([tmp_path])
    assert report.errors == [f"{path}: holds NUL characters, so it is not a text file"]


# -- the regression corpus ---------------------------------------------------------------------

# Inputs that some python-markdown version rendered quadratically, recursed on,
# or that stress the sanitiser. Whether each renders or is refused depends on
# the installed version; what holds on any version is the assertion below.
PATHOLOGICAL = {
    "brackets-9000.md": "# Brackets\n\n" + "[" * 9000 + "\n",
    "brackets-30000.md": "# Brackets\n\n" + "[" * 30000 + "\n",
    "unclosed-links.md": "# Links\n\n" + "[a](" * 10000 + "\n",
    "emphasis.md": "# Emphasis\n\n" + "*a _b " * 20000 + "\n",
    "backticks.md": "# Backticks\n\n" + "`" * 50000 + "\n",
    "angle-brackets.md": "# Angles\n\n" + "<" * 50000 + "\n",
    "nested-divs.md": "# Divs\n\n" + "<div>" * 100_000 + "x\n",
    "nested-lists.md": NESTED,
    "nested-quotes.md": "# Quotes\n\n" + "> " * 600 + "deep\n",
}
# The bounded outcomes: rendered, or refused for one of these reasons.
BOUNDED_REASONS = re.compile(
    r"took longer than 2 s to render|nesting deeper than 50 levels \(\d+\)"
    r"|nested too deeply to render|needs more than \d+ MiB of memory to render"
)


def test_pathological_inputs_render_or_are_refused_by_name_in_bounded_time(db, tmp_path):
    """Never a hang, never another file's failure, on any python-markdown version.

    Each file costs at most the 2 s limit and a renderer restart, so the
    whole folder is bounded by the wall clock below.
    """
    for name, text in PATHOLOGICAL.items():
        write(tmp_path, f"svc/{name}", text)
    write(tmp_path, "svc/good.md", GOOD)
    with wall_clock(len(PATHOLOGICAL) * (RENDER_SECONDS + 5) + STARTUP_SECONDS):
        report = sync_folders([tmp_path])
    refused = {}
    for error in report.errors:
        path, _colon, reason = error.partition(": ")
        refused[Path(path).name] = reason
    assert set(refused) <= set(PATHOLOGICAL), report.errors
    unbounded = {
        name: reason for name, reason in refused.items() if not BOUNDED_REASONS.fullmatch(reason)
    }
    assert unbounded == {}
    assert Runbook.objects.filter(slug="svc/good").exists()
    imported = set(Runbook.objects.values_list("slug", flat=True))
    assert imported == {"svc/good"} | {
        f"svc/{name.removesuffix('.md')}" for name in PATHOLOGICAL if name not in refused
    }
    # The nesting bound holds before any rendering, so these two are refused on any version.
    assert refused["nested-lists.md"] == "nesting deeper than 50 levels (599)"
    assert refused["nested-quotes.md"] == "nesting deeper than 50 levels (600)"


# -- slugs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", ["x/-/diff.md", "-/foo.md", "x/-.md"])
def test_a_path_segment_dash_is_reserved(db, tmp_path, relative):
    path = write(tmp_path, relative, GOOD)
    write(tmp_path, "x/diff.md", GOOD)
    report = sync_folders([tmp_path])
    assert report.errors == [f"{path}: a folder or file named '-': runbook URLs reserve it"]
    assert list(Runbook.objects.values_list("slug", flat=True)) == ["x/diff"]


def test_a_path_too_long_for_a_slug_is_a_named_bad_file(db, tmp_path):
    relative = "/".join(["d" * 60] * 4) + "/runbook-long.md"  # a slug of 256 characters
    assert len(relative) - len(".md") == 256
    path = write(tmp_path, relative, GOOD)
    report = sync_folders([tmp_path])
    assert report.errors == [f"{path}: the path is longer than 255 characters (256)"]


def test_dashes_inside_names_are_fine(db, tmp_path):
    write(tmp_path, "payments-api/error-rate-high.md", GOOD)
    assert sync_folders([tmp_path]).ok


# -- what a sync tells others ------------------------------------------------------------------


def test_the_report_lists_runbooks_with_a_new_revision(db, tmp_path):
    write(tmp_path, "svc/a.md", GOOD)
    write(tmp_path, "svc/b.md", GOOD)
    first = sync_folders([tmp_path])
    assert sorted(first.changed_runbooks) == sorted(Runbook.objects.values_list("pk", flat=True))
    write(tmp_path, "svc/b.md", GOOD + "\nMore.\n")
    write(tmp_path, "svc/c.md", "# Brackets\n\n" + "[" * 10 + "\n")
    second = sync_folders([tmp_path])
    b, c = Runbook.objects.get(slug="svc/b"), Runbook.objects.get(slug="svc/c")
    assert sorted(second.changed_runbooks) == sorted([b.pk, c.pk])
    assert sync_folders([tmp_path]).changed_runbooks == []


def test_the_renderer_process_ends_a_render_nobody_waits_for():
    """Its own timer stops a render a second after its deadline, even with its owner gone.

    The request names the slow extension itself, as render_markdown does from
    the setting; the process is started from the repository's root, where
    ``tests`` is importable.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "oncall.runbooks.renderer"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        request = {
            "text": SLOW,
            "page_dir": "",
            "url_prefix": "/runbooks/",
            "timeout": 0.5,
            "extensions": [EXTENSION],
        }
        with wall_clock(GUARD):
            assert render.read_message(process.stdout) == {"ready": True}
            render.write_message(process.stdin, request)
            answer = render.read_message(process.stdout)
        assert answer == {"refused": "time", "seconds": 0.5}
        process.stdin.close()
        assert process.wait(timeout=10) == 0  # and it ends when its owner closes the pipe
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
