"""Runbook paths a link can reach: names the sync refuses, and rows stored before it did."""

import os
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.urls import reverse

from oncall.runbooks.models import Revision, Runbook, SearchDocument, Section
from oncall.runbooks.sync import sync_folders

GOOD = "# Disk full\n\nGrow the volume.\n"
MIGRATION = "oncall.runbooks.migrations.0007_reachable_slugs"


def write(root: Path, relative: str, content: str = GOOD) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def test_a_control_character_in_a_file_or_folder_name_fails_that_file_alone(
    db, tmp_path, client_for, trainee
):
    write(tmp_path, "svc/bad\nname.md")
    write(tmp_path, "bad\tfolder/runbook.md")
    write(tmp_path, "bad\rfolder/_index.md", "# A folder\n")
    write(tmp_path, "svc/good.md")
    report = sync_folders([tmp_path])
    refused = "a folder or file name cannot be part of a link"
    assert sorted(report.errors) == [
        f"{tmp_path}/bad\\rfolder/_index.md: {refused}: 'bad\\rfolder' holds a control character"
        " (U+000D)",
        f"{tmp_path}/bad\\tfolder/runbook.md: {refused}: 'bad\\tfolder' holds a control character"
        " (U+0009)",
        f"{tmp_path}/svc/bad\\nname.md: {refused}: 'bad\\nname.md' holds a control character"
        " (U+000A)",
    ]
    assert list(Runbook.objects.values_list("slug", flat=True)) == ["svc/good"]
    assert not Section.objects.exists()
    client = client_for(trainee)
    assert client.get(reverse("runbooks:index")).status_code == 200
    assert client.get(reverse("runbooks:index"), {"q": "disk"}).status_code == 200


def test_a_file_name_that_is_not_utf8_is_named_with_its_reason(db, tmp_path):
    (tmp_path / "svc").mkdir()
    with open(os.path.join(os.fsencode(tmp_path), b"svc", b"disk\xff.md"), "w") as file:
        file.write(GOOD)
    report = sync_folders([tmp_path])
    # The undecodable byte is written as an escape: the line can be printed and stored.
    assert report.errors == [
        f"{tmp_path}/svc/disk\\udcff.md: a folder or file name cannot be part of a link:"
        " 'disk\\udcff.md' holds a lone surrogate (U+DCFF)"
    ]
    assert report.errors[0].encode("utf-8")


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("..md", "the name '..md' makes the link segment '.', which browsers remove"),
        ("svc/...md", "the name '...md' makes the link segment '..', which browsers remove"),
        (
            "%2e%2e.md",
            "the name '%2e%2e.md' holds %2e, which a link would read as an escaped character",
        ),
        (
            "a%2Fb/disk.md",
            "the name 'a%2Fb' holds %2F, which a link would read as an escaped character",
        ),
    ],
)
def test_a_name_whose_slug_no_link_reaches_is_refused(db, tmp_path, relative, reason):
    path = write(tmp_path, relative)
    write(tmp_path, "svc/disk-90%-full.md")  # a percent sign that escapes nothing is fine
    report = sync_folders([tmp_path])
    assert report.errors == [f"{path}: {reason}"]
    assert list(Runbook.objects.values_list("slug", flat=True)) == ["svc/disk-90%-full"]


def stored_before_the_check(team, slug: str) -> Runbook:
    """A runbook as the sync stored it before paths were checked."""
    runbook = Runbook.objects.create(
        slug=slug, title=f"Runbook {slug!r}", team=team, source_root="/srv/runbooks"
    )
    revision = Revision.objects.create(
        runbook=runbook, number=1, content_hash="x", markdown=GOOD, html="<p>Disk</p>"
    )
    Runbook.objects.filter(pk=runbook.pk).update(current_revision=revision)
    SearchDocument.objects.create(runbook=runbook, title=runbook.title, body="disk full")
    return runbook


def test_rows_stored_before_the_check_get_a_slug_a_link_reaches(db, team, client_for, trainee):
    newline = stored_before_the_check(team, "svc/bad\nname")
    dot = stored_before_the_check(team, ".")
    escaped = stored_before_the_check(team, "%2e%2e")
    taken = stored_before_the_check(team, "svc/bad-name")  # what the newline one would become
    Section.objects.create(path="bad\nfolder", title="A folder")
    Section.objects.create(path="svc", title="Services")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    __import__(MIGRATION, fromlist=["forwards"]).forwards(django_apps, editor)

    moved = {runbook.pk: runbook for runbook in Runbook.objects.all()}
    assert moved[newline.pk].slug == f"svc/bad-name-{newline.pk}"
    assert moved[dot.pk].slug == "dot"
    assert moved[escaped.pk].slug == "-2e-2e"
    assert (moved[taken.pk].slug, moved[taken.pk].archived) == ("svc/bad-name", False)
    assert all(moved[runbook.pk].archived for runbook in (newline, dot, escaped))
    assert list(Section.objects.values_list("path", flat=True)) == ["svc"]
    client = client_for(trainee)
    assert client.get(reverse("runbooks:index")).status_code == 200
    assert client.get(reverse("runbooks:index"), {"q": "disk"}).status_code == 200
    # Kept, at a link that reaches it: its history and readers' marks stay.
    page = client.get(moved[newline.pk].get_absolute_url())
    assert page.status_code == 200 and "archived" in page.content.decode().lower()
