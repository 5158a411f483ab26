"""The sync writes each batch of files with a few statements per table, and still
fails one file alone when its write fails."""

from pathlib import Path

from oncall.runbooks.models import AlertName, Revision, Runbook, SearchDocument, SearchTerm
from oncall.runbooks.search import search
from oncall.runbooks.sync import sync_folders


def write(root: Path, relative: str, content: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


def runbook(i: int) -> str:
    return (
        f"---\ntitle: Alert {i}\nalerts: [Alert{i}, Other{i}]\ntags: [t{i}]\n---\n"
        f"# Alert {i}\n\nbody {i}: 証明書の期限を確認します。\n"
    )


def test_a_cold_sync_writes_a_batch_with_a_few_statements(
    db, tmp_path, django_assert_max_num_queries
):
    for i in range(40):
        write(tmp_path, f"svc/alert{i:02}.md", runbook(i))
    # Loading runbooks, sections and teams; the batch: its transaction and
    # savepoint, runbooks, revisions (and numbers), current revisions, alert
    # names, search documents, terms; listeners; archive, sections gone, shared
    # alerts. One file at a time it was seven statements a file.
    with django_assert_max_num_queries(25):
        report = sync_folders([tmp_path])
    assert report.created == 40 and report.ok
    assert AlertName.objects.count() == 80
    assert SearchDocument.objects.count() == 40
    assert all(
        r.current_revision.number == 1 for r in Runbook.objects.select_related("current_revision")
    )
    assert len(search("期限")) == 40


def test_a_changed_batch_replaces_names_documents_and_terms(db, tmp_path):
    for i in range(5):
        write(tmp_path, f"svc/alert{i}.md", runbook(i))
    sync_folders([tmp_path])
    for i in range(5):
        write(
            tmp_path,
            f"svc/alert{i}.md",
            runbook(i).replace("Other", "Renamed").replace("期限", "更新"),
        )
    report = sync_folders([tmp_path])
    assert report.updated == 5 and report.ok
    assert sorted(
        Revision.objects.filter(runbook__slug="svc/alert3").values_list("number", flat=True)
    ) == [1, 2]
    assert set(
        AlertName.objects.filter(runbook__slug="svc/alert3").values_list("name", flat=True)
    ) == {
        "Alert3",
        "Renamed3",
    }
    assert search("期限") == []
    assert len(search("更新")) == 5
    assert not SearchTerm.objects.filter(term="期限").exists()
    current = Runbook.objects.get(slug="svc/alert3")
    assert current.current_revision.number == 2


def test_a_write_that_fails_fails_its_file_alone(db, tmp_path):
    """A runbook made by hand while the sync reads the files takes a slug the
    sync meant to create: that insert fails, the batch is written again file by
    file, and only that file fails."""
    for name in ("a", "b", "c"):
        write(tmp_path, f"svc/{name}.md", f"# Runbook {name}\n\n障害の時に読みます。\n")

    def made_by_hand_meanwhile(done: int, total: int) -> None:
        if done == total:  # every file was read; the batch is not written yet
            Runbook.objects.create(slug="svc/b", title="Made by hand")

    report = sync_folders([tmp_path], progress=made_by_hand_meanwhile)
    assert report.created == 2 and report.failed == 1
    assert len(report.errors) == 1 and report.errors[0].startswith(f"{tmp_path}/svc/b.md: ")
    assert Runbook.objects.get(slug="svc/b").title == "Made by hand"
    assert sorted(r.runbook.slug for r in search("障害")) == ["svc/a", "svc/c"]
