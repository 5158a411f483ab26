"""Importing runbook folders: sync_runbooks, the sync workflow and the admin's sync runs."""

from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from oncall.runbooks.models import AlertName, Revision, Runbook, Section, SyncRun
from oncall.runbooks.sync import sync_folders
from oncall.runbooks.tasks import request_sync, run_sync

GOOD = """---
title: Disk full
team: payments
alerts: [DiskFull, DiskFillingUp]
tags: [disk, storage]
owner: lead
review_every: 90
last_reviewed: 2026-10-01
---

# Disk full

## Mitigation

Delete old WAL files.
"""


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def run_command(*args) -> tuple[str, str, int]:
    """Run sync_runbooks like a shell would; return stdout, stderr and exit status."""
    out, err = StringIO(), StringIO()
    try:
        call_command("sync_runbooks", *[str(a) for a in args], stdout=out, stderr=err)
        status = 0
    except CommandError as e:
        status = e.returncode
    return out.getvalue(), err.getvalue(), status


def test_it_imports_the_sample_runbooks(db, team, other_team):
    report = sync_folders([settings.RUNBOOKS_DIR])
    assert report.errors == []
    assert report.created == Runbook.objects.count()
    # Every runbook file of the sample set (the services' and the app's own).
    files = [p for p in Path(settings.RUNBOOKS_DIR).rglob("*.md") if p.name != "_index.md"]
    assert report.created == len(files) >= 10
    cert = Runbook.objects.get(slug="payments-api/certificate-expiry")
    assert cert.team == team
    assert cert.title.startswith("証明書の期限切れ")
    assert cert.current_revision.number == 1
    assert set(cert.alert_names.values_list("key", flat=True)) == {
        "paymentscertificateexpiringsoon",
        "paymentscertificateexpired",
    }
    assert Runbook.objects.get(slug="platform/node-not-ready").team == other_team
    # _index.md describes a folder; it is not a runbook.
    assert not Runbook.objects.filter(slug__endswith="_index").exists()
    assert Section.objects.get(path="payments-api").title == "payments-api"
    assert Section.objects.filter(path="").exists()


def test_it_derives_title_alert_and_service_without_front_matter(db):
    sync_folders([settings.RUNBOOKS_DIR])
    runbook = Runbook.objects.get(slug="ledger-worker/ledgerworkerstuck")
    assert runbook.title == "Ledger worker stuck"
    assert runbook.alerts == ["LedgerWorkerStuck"]
    assert runbook.service == "ledger-worker"
    assert runbook.team is None


def test_it_reads_every_front_matter_field(db, team, tmp_path):
    write(tmp_path, "storage/disk.md", GOOD)
    report = sync_folders([tmp_path])
    assert report.created == 1, report.errors
    runbook = Runbook.objects.get(slug="storage/disk")
    assert runbook.title == "Disk full"
    assert runbook.team == team
    assert runbook.service == "storage"
    assert runbook.alerts == ["DiskFull", "DiskFillingUp"]
    assert runbook.tags == ["disk", "storage"]
    assert runbook.owner == "lead"
    assert runbook.review_every == 90
    assert runbook.last_reviewed == date(2026, 10, 1)
    assert runbook.source_root == str(tmp_path.resolve())
    assert runbook.source_path == "storage/disk.md"
    assert runbook.current_revision.content_hash
    assert "Delete old WAL files." in runbook.current_revision.html


def test_it_makes_slugs_from_the_path(db, tmp_path):
    write(tmp_path, "Kubernetes/KubePodCrashLooping.md", "# Crash looping\n")
    sync_folders([tmp_path])
    runbook = Runbook.objects.get()
    assert runbook.slug == "kubernetes/kubepodcrashlooping"
    assert runbook.get_absolute_url() == "/runbooks/kubernetes/kubepodcrashlooping/"
    assert runbook.alerts == ["KubePodCrashLooping"]


def test_it_is_idempotent_and_fast_when_nothing_changed(
    db, tmp_path, django_assert_max_num_queries
):
    for i in range(30):
        write(tmp_path, f"svc/alert{i}.md", f"# Alert {i}\n\nbody {i}\n")
    assert sync_folders([tmp_path]).created == 30
    revisions = Revision.objects.count()
    # runbooks, sections, teams, archive, sections gone, shared alerts; plus the
    # batch's transaction, a savepoint pair inside the test's own transaction.
    with django_assert_max_num_queries(8):
        report = sync_folders([tmp_path])
    assert (report.created, report.updated, report.unchanged, report.failed) == (0, 0, 30, 0)
    assert Revision.objects.count() == revisions


def test_it_adds_a_revision_when_a_file_changes(db, tmp_path):
    path = write(tmp_path, "svc/disk.md", GOOD)
    sync_folders([tmp_path])
    path.write_text(GOOD.replace("Delete old WAL files.", "Grow the volume."), encoding="utf-8")
    report = sync_folders([tmp_path])
    assert report.updated == 1
    runbook = Runbook.objects.get()
    assert runbook.current_revision.number == 2
    assert "Grow the volume." in runbook.current_revision.html
    assert list(runbook.revisions.values_list("number", flat=True)) == [2, 1]


def test_it_archives_a_runbook_whose_file_is_gone_and_restores_it(db, tmp_path):
    path = write(tmp_path, "svc/disk.md", GOOD)
    write(tmp_path, "svc/other.md", "# Other\n")
    sync_folders([tmp_path])
    content = path.read_text()
    path.unlink()
    report = sync_folders([tmp_path])
    assert report.archived == 1
    runbook = Runbook.objects.get(slug="svc/disk")
    assert runbook.archived
    assert runbook.current_revision.number == 1  # still readable
    assert not Runbook.objects.get(slug="svc/other").archived

    write(tmp_path, "svc/disk.md", content)
    report = sync_folders([tmp_path])
    runbook.refresh_from_db()
    assert not runbook.archived
    assert report.updated == 1


def test_it_archives_only_among_the_folders_it_was_given(db, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    write(first, "a/one.md", "# One\n")
    write(second, "b/two.md", "# Two\n")
    sync_folders([first, second])
    (first / "a/one.md").unlink()
    report = sync_folders([second])
    assert report.archived == 0
    assert not Runbook.objects.get(slug="a/one").archived
    report = sync_folders([first])
    assert report.archived == 1
    assert Runbook.objects.get(slug="a/one").archived
    assert not Runbook.objects.get(slug="b/two").archived


BAD_FILES = [
    ("invalid YAML", "---\ntitle: [unclosed\n---\n# x\n", "front matter is not valid YAML"),
    ("front matter not a mapping", "---\n- a\n- b\n---\n# x\n", "front matter is not a mapping"),
    ("unclosed front matter", "---\ntitle: x\n# x\n", "front matter has no closing ---"),
    ("review_every wrong type", "---\nreview_every: soon\n---\n# x\n", "review_every must be"),
    ("last_reviewed wrong type", "---\nlast_reviewed: 1 Oct\n---\n# x\n", "last_reviewed must be"),
    ("alerts wrong type", "---\nalerts: {a: b}\n---\n# x\n", "alerts must be a list"),
    ("title wrong type", "---\ntitle: [a, b]\n---\n# x\n", "title must be text"),
    ("tags wrong type", "---\ntags: {a: 1}\n---\n# x\n", "tags must be a list"),
    ("owner wrong type", "---\nowner: [a, b]\n---\n# x\n", "owner must be text"),
    ("alert name with a slash", "---\nalerts: [a/b]\n---\n# x\n", "is not an alert name"),
    ("not UTF-8", "# caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ("over 1 MiB", "# big\n\n" + "x" * (1024 * 1024), "larger than 1 MiB"),
    ("link out of the folder", "# x\n\n[secrets](../../secrets.md)\n", "links out of the runbook folder"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "content", "reason"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_it_reports_and_skips_a_bad_file(db, tmp_path, case, content, reason):
    write(tmp_path, "svc/good.md", "# Good\n")
    bad = write(tmp_path, "svc/bad.md", content)
    report = sync_folders([tmp_path])
    assert Runbook.objects.filter(slug="svc/good").exists()
    assert report.failed == 1
    assert report.errors == [f"{bad}: {report.errors[0].split(': ', 1)[1]}"]
    assert reason in report.errors[0]
    assert not Runbook.objects.filter(slug="svc/bad").exists()


def test_it_refuses_a_symbolic_link_out_of_the_folder(db, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET_KEY=do-not-publish\n", encoding="utf-8")
    root = tmp_path / "runbooks"
    write(root, "svc/good.md", "# Good\n")
    (root / "svc" / "leak.md").symlink_to(secret)
    (root / "svc" / "env.md").symlink_to("/proc/self/environ")
    report = sync_folders([root])
    assert report.failed == 2
    assert all("a link out of the folder" in error for error in report.errors)
    assert list(Runbook.objects.values_list("slug", flat=True)) == ["svc/good"]
    assert not Revision.objects.filter(markdown__contains="do-not-publish").exists()


def test_it_follows_a_symbolic_link_inside_the_folder(db, tmp_path):
    write(tmp_path, "svc/disk.md", GOOD)
    (tmp_path / "svc" / "alias.md").symlink_to(tmp_path / "svc" / "disk.md")
    report = sync_folders([tmp_path])
    assert report.failed == 0


def test_it_keeps_the_previous_revision_when_a_file_goes_bad(db, tmp_path):
    path = write(tmp_path, "svc/disk.md", GOOD)
    sync_folders([tmp_path])
    path.write_text("---\nreview_every: soon\n---\n# Broken\n", encoding="utf-8")
    report = sync_folders([tmp_path])
    assert report.failed == 1
    runbook = Runbook.objects.get()
    assert not runbook.archived
    assert runbook.current_revision.number == 1
    assert runbook.title == "Disk full"


def test_it_refuses_a_slug_taken_by_another_file_in_the_same_sync(db, tmp_path):
    write(tmp_path, "svc/Disk.md", "# One\n")
    write(tmp_path, "svc/disk.md", "# Two\n")
    report = sync_folders([tmp_path])
    assert report.created == 1
    assert report.failed == 1
    assert "slug svc/disk is already taken by" in report.errors[0]


def test_it_refuses_a_slug_taken_by_another_folder(db, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    write(first, "svc/disk.md", "# First\n")
    write(second, "svc/disk.md", "# Second\n")
    sync_folders([first])
    report = sync_folders([second])
    assert report.failed == 1
    assert str(first / "svc/disk.md") in report.errors[0]
    assert Runbook.objects.get().title == "First"


def test_it_warns_about_an_alert_answered_twice(db, tmp_path):
    write(tmp_path, "api/errors.md", "---\nalerts: [HighErrorRate]\n---\n# API\n")
    write(tmp_path, "web/errors.md", "---\nalerts: [higherrorrate]\n---\n# Web\n")
    report = sync_folders([tmp_path])
    assert report.failed == 0
    assert report.created == 2
    assert any(
        "HighErrorRate" in w and "api/errors" in w and "web/errors" in w for w in report.warnings
    ), report.warnings
    assert AlertName.objects.filter(key="higherrorrate").count() == 2


def test_it_warns_about_an_unknown_team_and_imports_without_one(db, tmp_path):
    write(tmp_path, "svc/x.md", "---\nteam: nobody\n---\n# X\n")
    report = sync_folders([tmp_path])
    assert report.created == 1
    assert report.failed == 0
    assert "unknown team 'nobody'" in report.warnings[0]
    assert Runbook.objects.get().team is None


def test_it_rewrites_hugo_refs_between_runbooks(db, tmp_path):
    write(tmp_path, "node/A.md", '# A\n\nSee [B]({{< ref "./B.md" >}}).\n')
    write(tmp_path, "node/B.md", "# B\n")
    assert sync_folders([tmp_path]).failed == 0
    assert 'href="/runbooks/node/b/"' in Runbook.objects.get(slug="node/a").current_revision.html


def test_the_command_prints_a_summary_and_exits_1_on_failure(db, tmp_path):
    write(tmp_path, "svc/good.md", "# Good\n")
    bad = write(tmp_path, "svc/bad.md", "---\ntitle: [\n---\n")
    out, err, status = run_command(tmp_path)
    assert status == 1
    assert "created 1, updated 0, unchanged 0, archived 0, failed 1" in out
    assert f"{bad}: front matter is not valid YAML" in err


def test_the_command_exits_0_and_warns_about_shared_alerts(db, tmp_path):
    write(tmp_path, "a.md", "---\nalerts: [Same]\n---\n# A\n")
    write(tmp_path, "b.md", "---\nalerts: [Same]\n---\n# B\n")
    out, err, status = run_command(tmp_path)
    assert status == 0
    assert "created 2, updated 0, unchanged 0, archived 0, failed 0" in out
    assert "warning: alert Same is answered by several runbooks: a, b" in err


def test_the_command_reads_runbooks_dir_by_default(db, settings, tmp_path):
    settings.RUNBOOKS_DIR = tmp_path
    write(tmp_path, "svc/x.md", "# X\n")
    out, _err, status = run_command()
    assert status == 0
    assert "created 1," in out


def test_the_command_shows_progress_for_large_folders(db, tmp_path):
    for i in range(220):
        write(tmp_path, f"svc/a{i:03}.md", f"# A{i}\n")
    _out, err, status = run_command(tmp_path)
    assert status == 0
    assert "22/220 files (10%)" in err
    assert "220/220 files (100%)" in err


def test_the_command_fails_for_a_missing_folder(db, tmp_path):
    out, err, status = run_command(tmp_path / "nope")
    assert status == 1
    assert "not a folder" in err


def test_staff_start_a_sync_from_the_admin(
    db, client_for, staff, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.RUNBOOKS_DIR = tmp_path
    write(tmp_path, "svc/x.md", "# X\n")
    client = client_for(staff)
    response = client.get(reverse("admin:runbooks_syncrun_add"))
    assert str(tmp_path) in response.content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("admin:runbooks_syncrun_add"), {"folders": f'["{tmp_path}"]'}
        )
    assert response.status_code == 302
    run = SyncRun.objects.get()
    assert run.requested_by == staff
    assert run.state == SyncRun.State.PENDING
    assert len(callbacks) == 1
    # What the worker does with the message:
    run_sync(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.DONE
    assert run.summary == "created 1, updated 0, unchanged 0, archived 0, failed 0"
    assert Runbook.objects.filter(slug="svc/x").exists()


def test_a_sync_run_records_failures_and_runs_once(
    db, tmp_path, django_capture_on_commit_callbacks
):
    write(tmp_path, "svc/bad.md", "---\nreview_every: soon\n---\n")
    with django_capture_on_commit_callbacks() as callbacks:
        run = request_sync(folders=[str(tmp_path)])
    assert len(callbacks) == 1
    run_sync(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED
    assert "review_every must be" in run.log
    finished = run.finished_at
    run_sync(run.pk)  # a redelivered message does nothing
    run.refresh_from_db()
    assert run.finished_at == finished
    run_sync(run.pk + 1000)  # a vanished row is skipped quietly


def test_demo_seed_imports_the_samples_idempotently(db):
    call_command("seed_demo", verbosity=0)
    count = Runbook.objects.count()
    assert count >= 10
    call_command("seed_demo", verbosity=0)
    assert Runbook.objects.count() == count
    assert Revision.objects.count() == count


def test_it_accepts_a_single_string_for_alerts_and_tags(db, tmp_path):
    write(tmp_path, "svc/x.md", "---\nalerts: OnlyOne\ntags: disk\n---\n# X\n")
    assert sync_folders([tmp_path]).failed == 0
    runbook = Runbook.objects.get()
    assert (runbook.alerts, runbook.tags) == (["OnlyOne"], ["disk"])


def test_an_empty_alerts_list_answers_no_alert(db, tmp_path):
    write(tmp_path, "svc/Notes.md", "---\nalerts: []\n---\n# Notes\n")
    assert sync_folders([tmp_path]).ok
    assert Runbook.objects.get().alerts == []
    assert not AlertName.objects.exists()


def test_a_removed_index_file_removes_its_section(db, tmp_path):
    index = write(tmp_path, "svc/_index.md", "---\ntitle: The service\n---\nAbout it.\n")
    write(tmp_path, "svc/a.md", "# A\n")
    sync_folders([tmp_path])
    section = Section.objects.get(path="svc")
    assert section.title == "The service"
    assert "About it." in section.html
    index.unlink()
    sync_folders([tmp_path])
    assert not Section.objects.filter(path="svc").exists()
