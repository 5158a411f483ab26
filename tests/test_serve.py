"""`make run`'s process runner (manage.py serve) and the email backend it runs with."""

import os
import signal
import subprocess
import sys
import textwrap
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

from django.core import mail

from oncall.teams import devmail
from tests.stack import wait_until

ROOT = Path(__file__).resolve().parent.parent

# A process that chatters when told to stop, as gunicorn and Celery do.
CHATTY = textwrap.dedent(
    """
    import signal, sys, time
    def stop(signum, frame):
        print("Handling signal: term -- shutting down", flush=True)
        time.sleep(0.3)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, lambda *a: print("ERROR interrupted!", flush=True))
    print("ready", flush=True)
    while True:
        time.sleep(0.1)
    """
)


def _serve(tmp_path, procfile_text, *extra):
    (tmp_path / "chatty.py").write_text(CHATTY)
    procfile = tmp_path / "Procfile"
    procfile.write_text(procfile_text.format(python=sys.executable, chatty=tmp_path / "chatty.py"))
    return subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--procfile", str(procfile), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job is
    )


def _lines_after(output, marker):
    lines = output.splitlines()
    index = max(i for i, line in enumerate(lines) if marker in line)
    return lines[index + 1 :]


def test_it_stops_every_process_with_one_line_each_on_ctrl_c(tmp_path):
    runner = _serve(
        tmp_path, "web: {python} {chatty}\nworker: {python} {chatty}\nbeat: {python} {chatty}\n"
    )
    seen = []

    def all_ready():
        seen.append(runner.stdout.readline())
        return sum("| ready" in line for line in seen) == 3

    assert wait_until(all_ready, timeout=30)
    # Ctrl-C in a terminal signals the whole foreground process group.
    os.killpg(runner.pid, signal.SIGINT)
    rest, _ = runner.communicate(timeout=30)

    assert runner.returncode == 0
    after = [line for line in rest.splitlines() if line.strip()]
    assert [line.split("| ")[1] for line in after] == [
        "web.1 stopped",
        "worker.1 stopped",
        "beat.1 stopped",
    ]
    assert not any("ERROR" in line or "Handling signal" in line for line in after)


def test_it_stops_the_others_and_fails_when_a_process_ends_by_itself(tmp_path):
    runner = _serve(
        tmp_path, "web: {python} {chatty}\nbroken: {python} -c 'import sys; sys.exit(3)'\n"
    )
    output, _ = runner.communicate(timeout=60)

    assert runner.returncode == 1
    assert "broken.1 exited with status 3; stopping web.1" in output
    assert "web.1 stopped" in output
    assert "broken.1 ended by itself (status 3)" in output


def test_it_kills_a_process_that_will_not_stop(tmp_path):
    (tmp_path / "stubborn.py").write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
        "while True: time.sleep(0.1)\n"
    )
    runner = _serve(
        tmp_path, "web: {python} " + str(tmp_path / "stubborn.py") + "\n", "--grace", "1"
    )
    assert wait_until(lambda: "| ready" in runner.stdout.readline(), timeout=30)
    os.killpg(runner.pid, signal.SIGINT)
    rest, _ = runner.communicate(timeout=30)

    assert runner.returncode == 0
    assert "web.1 did not stop within 1 s: killed" in rest


def test_a_procfile_line_without_a_name_is_named(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: gunicorn\njust a command\n")
    result = subprocess.run(
        [sys.executable, "manage.py", "serve", "--procfile", str(procfile)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "line 2: expected 'name: command', got 'just a command'" in result.stderr


def test_without_smtp_each_email_is_saved_as_a_file_and_logged_once(tmp_path, caplog):
    backend = devmail.EmailBackend(folder=tmp_path / "mail")
    message = mail.EmailMessage(
        "Shadow shift tomorrow 10:00 JST", "Bring coffee.", "oncall@localhost", ["taro@example.com"]
    )
    with caplog.at_level("INFO", logger="oncall.teams.devmail"):
        assert backend.send_messages([message]) == 1

    [saved] = (tmp_path / "mail").iterdir()
    assert saved.name.endswith("-shadow-shift-tomorrow-10-00-jst.eml")
    parsed = message_from_bytes(saved.read_bytes(), policy=default_policy)
    assert parsed["To"] == "taro@example.com"
    assert parsed.get_content().strip() == "Bring coffee."
    [record] = caplog.records
    assert "email to taro@example.com: Shadow shift tomorrow 10:00 JST" in record.getMessage()
    assert str(saved) in record.getMessage()
