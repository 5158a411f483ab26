"""Folder -> database: import runbook files, idempotently.

``sync_folders`` is the one workflow; the management command, the admin
(through a Celery task) and the demo seed all call it.

Files in a folder named ``drills`` are drill scenarios, not runbooks: the
drills app (above this one) registers what stores them
(``register_drill_files``); this module reads them with the same guards and
records each outcome, or failure, in the same report.
"""

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from oncall.core.text import TextRefused, check_text
from oncall.runbooks import alert_help
from oncall.runbooks.changes import revisions_changed
from oncall.runbooks.files import (
    MAX_SOURCE_PATH,
    BadFile,
    Parsed,
    check_path,
    read_runbook,
    read_section,
    slug_for,
    split_front_matter,
)
from oncall.runbooks.models import (
    AlertName,
    Revision,
    Runbook,
    SearchDocument,
    SearchTerm,
    Section,
)
from oncall.runbooks.search import cjk_terms
from oncall.teams.models import Team

__all__ = ["BadFile", "SyncReport", "slug_for", "split_front_matter", "sync_folders"]

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 1024 * 1024
# Files stored per transaction: fewer commits than one per file, while a long
# import still lets other writers in between batches.
BATCH = 100
INDEX_FILE = "_index.md"
DRILLS_FOLDER = "drills"


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # "path: reason"
    warnings: list[str] = field(default_factory=list)
    changed_runbooks: list[int] = field(default_factory=list)  # ids with a new revision
    # Drill scenario files: outcome ("created", "updated", "unchanged", "removed") -> count.
    drills: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        text = (
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"archived {self.archived}, failed {self.failed}"
        )
        if self.drills:
            counts = ", ".join(
                f"{outcome} {self.drills.get(outcome, 0)}"
                for outcome in ("created", "updated", "unchanged", "removed")
            )
            text += f"; drill scenarios: {counts}"
        return text


@dataclass
class FolderFile:
    """A file of a synced folder, read within the guards, for the app that stores it."""

    root: str
    rel_str: str  # its path below the folder, with / between parts
    raw: bytes
    content_hash: str


@dataclass
class DrillFiles:
    """What the drills app registers: ``store(file)`` stores one drill file and returns
    its outcome ("created", "updated", "unchanged"), raising ValueError with the reason
    for a file it refuses (its scenario keeps its previous revision);
    ``forget(folders, seen)`` handles the scenarios of those ``drills`` folders (paths
    below the synced folder) whose file is gone, and returns how many it removed."""

    store: Callable[[FolderFile], str]
    forget: Callable[[list[str], set[str]], int]


_drill_files: list[DrillFiles] = []


def register_drill_files(handler: DrillFiles) -> None:
    """Set the one handler of drill files (a second registration replaces the first)."""
    _drill_files[:] = [handler]


def is_drill_file(relative: Path) -> bool:
    return DRILLS_FOLDER in relative.parts[:-1] and relative.name != INDEX_FILE


def drills_folder_of(relative: Path) -> str:
    """The innermost ``drills`` folder above a drill file: payments/drills/a/b.md -> payments/drills."""
    folders = relative.parts[:-1]
    last = max(i for i, name in enumerate(folders) if name == DRILLS_FOLDER)
    return "/".join(folders[: last + 1])


# In a path shown to people: what would break its line or could not be printed
# or stored (a name that is not UTF-8 reaches Python as lone surrogates).
UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def shown(path: Path) -> str:
    """A path as people typed it: relative to the working folder when below it,
    with control characters and undecodable bytes written as escapes (\\n)."""
    try:
        text = str(path.relative_to(Path.cwd()))
    except ValueError:
        text = str(path)
    return UNPRINTABLE.sub(lambda found: ascii(found.group())[1:-1], text)


def _storable(text: str) -> bool:
    """Whether a slug can be stored or looked up: a file name that is not UTF-8
    reaches Python as lone surrogates, which no database driver can send."""
    try:
        check_text(text, name="slug")
    except TextRefused:
        return False
    return True


def markdown_files(root: Path) -> list[Path]:
    """Every ``*.md`` below root, sorted, skipping hidden folders such as .git."""
    found = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(folder) / name for name in sorted(filenames) if name.endswith(".md"))
    return found


# -- storing ---------------------------------------------------------------------------------


RUNBOOK_FIELDS = [
    "title",
    "team",
    "service",
    "alerts",
    "tags",
    "owner",
    "review_every",
    "last_reviewed",
    "source_root",
    "source_path",
    "archived",
    "updated_at",
]


def _runbook_for(ready: "_Ready", now: datetime) -> Runbook:
    """The runbook row of a file with a new revision, its fields set from the file."""
    parsed = ready.parsed
    runbook = ready.existing or Runbook(slug=parsed.slug, created_at=now)
    runbook.title = parsed.title
    runbook.team = ready.team
    runbook.service = parsed.service
    runbook.alerts = parsed.alerts
    runbook.tags = parsed.tags
    runbook.owner = parsed.owner
    runbook.review_every = parsed.review_every
    runbook.last_reviewed = parsed.last_reviewed
    runbook.source_root = ready.root
    runbook.source_path = ready.rel_str
    runbook.archived = False
    runbook.updated_at = now
    return runbook


def _store_revisions(items: list[tuple["_Ready", Runbook]], now: datetime) -> None:
    """Write new revisions of many runbooks with a few statements per table.

    1. Insert the new runbooks and update the known ones (their fields).
    2. Number each revision after the runbook's highest (one query), insert
       them, and point every runbook at its new revision.
    3. Replace the alert names, search documents and CJK search terms of the
       known runbooks: delete theirs, insert everyone's.
    """
    new = [runbook for ready, runbook in items if ready.existing is None]
    known = [runbook for ready, runbook in items if ready.existing is not None]
    Runbook.objects.bulk_create(new)
    if known:
        Runbook.objects.bulk_update(known, RUNBOOK_FIELDS)
    highest = dict(
        Revision.objects.filter(runbook__in=known)
        .order_by()
        .values_list("runbook")
        .annotate(n=Max("number"))
    )
    revisions = [
        Revision(
            runbook=runbook,
            number=(highest.get(runbook.pk) or 0) + 1,
            content_hash=ready.content_hash,
            markdown=ready.parsed.markdown,
            html=ready.parsed.html,
            toc=ready.parsed.toc,
            created_at=now,
        )
        for ready, runbook in items
    ]
    Revision.objects.bulk_create(revisions)
    for (_ready, runbook), revision in zip(items, revisions, strict=True):
        runbook.current_revision = revision
    # One plain UPDATE: each runbook's newest revision is the one just written.
    Runbook.objects.filter(pk__in=[runbook.pk for _ready, runbook in items]).update(
        current_revision=Subquery(
            Revision.objects.filter(runbook=OuterRef("pk")).order_by("-number").values("pk")[:1]
        )
    )
    if known:
        ids = [runbook.pk for runbook in known]
        AlertName.objects.filter(runbook_id__in=ids).delete()
        SearchDocument.objects.filter(runbook_id__in=ids).delete()
        SearchTerm.objects.filter(runbook_id__in=ids).delete()
    AlertName.objects.bulk_create(
        [
            AlertName(runbook=runbook, name=name, key=name.lower())
            for ready, runbook in items
            for name in ready.parsed.alerts
        ]
    )
    documents = [
        SearchDocument(
            runbook=runbook,
            title=ready.parsed.title,
            alerts="\n".join(ready.parsed.alerts),
            tags="\n".join(ready.parsed.tags),
            body=ready.parsed.text,
        )
        for ready, runbook in items
    ]
    SearchDocument.objects.bulk_create(documents)
    SearchTerm.objects.bulk_create([term for document in documents for term in cjk_terms(document)])


def _store_all(batch: list["_Ready"]) -> list[tuple["_Ready", Runbook | None]]:
    """Write prepared files; return each with its runbook (None for a section)."""
    now = timezone.now()
    stored: list[tuple[_Ready, Runbook | None]] = []
    revised: list[tuple[_Ready, Runbook]] = []
    for ready in batch:
        if ready.section is not None:
            title, html = ready.section
            Section.objects.update_or_create(
                path=ready.folder,
                defaults={
                    "title": title,
                    "html": html,
                    "content_hash": ready.content_hash,
                    "source_root": ready.root,
                },
            )
            stored.append((ready, None))
        elif ready.parsed is None:  # renamed, case only
            Runbook.objects.filter(pk=ready.existing.pk).update(source_path=ready.rel_str)
            stored.append((ready, ready.existing))
        else:
            revised.append((ready, _runbook_for(ready, now)))
    if revised:
        _store_revisions(revised, now)
    return stored + revised


def _taken_by_other_file(runbook: Runbook, root: str) -> bool:
    """A slug belongs to another folder while that folder's file still exists."""
    if runbook.source_root == root or runbook.archived:
        return False
    if not runbook.source_root:
        return True  # made by hand (admin), never by a sync: do not overwrite it
    return (Path(runbook.source_root) / runbook.source_path).is_file()


@dataclass
class _Ready:
    """One file read, validated and rendered, waiting for its batch's transaction.

    ``parsed`` is set for a runbook with a new revision, ``section`` (title,
    html) for a changed ``_index.md``; with neither, only ``rel_str`` is new
    (the same content under a name that differs by case).
    """

    path: Path
    root: str
    rel_str: str
    content_hash: str
    existing: Runbook | None = None
    parsed: Parsed | None = None
    team: Team | None = None
    section: tuple[str, str] | None = None
    folder: str = ""


def _failure(path: Path, error: BaseException) -> str:
    """The reason a file failed, for a person: a BadFile's own words (or a drill file's
    ValueError's), else the error."""
    if isinstance(error, BadFile | ValueError):
        return str(error)
    if isinstance(error, OSError):
        return str(error.strerror or error)
    return _("could not be imported (%(error)s: %(detail)s)") % {
        "error": type(error).__name__,
        "detail": str(error)[:200],
    }


def read_guarded(root: str, path: Path, relative: Path) -> tuple[str, bytes]:
    """A file's path below its folder and its bytes; BadFile for a link out of the
    folder, anything but a regular file, over 1 MiB or a path too long to store."""
    # A symbolic link in a runbooks repository could publish any file of the
    # server (/proc/self/environ, the secret key) to every signed-in user.
    resolved = path.resolve()
    if not resolved.is_relative_to(Path(root).resolve()):
        raise BadFile(_("a link out of the folder (to %(target)s)") % {"target": resolved})
    if not resolved.is_file():
        raise BadFile(_("not a regular file"))
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise BadFile(_("larger than 1 MiB (%(size)d bytes)") % {"size": size})
    rel_str = relative.as_posix()
    if len(rel_str) > MAX_SOURCE_PATH:
        raise BadFile(
            _("the path is longer than %(limit)d characters (%(length)d)")
            % {"limit": MAX_SOURCE_PATH, "length": len(rel_str)}
        )
    return rel_str, path.read_bytes()


@dataclass
class _Run:
    """What one sync knows while it walks the files."""

    report: SyncReport
    known: dict[str, Runbook]  # slug -> runbook already in the database
    sections: dict[str, str]  # folder path -> content hash of its _index.md
    teams: dict[str, Team]
    seen_slugs: dict[str, Path] = field(default_factory=dict)  # slug -> file that claimed it
    seen_sections: set[str] = field(default_factory=set)

    def fail(self, path: Path, error: BaseException) -> None:
        """Record one file's failure; anything but a BadFile is also logged with its traceback."""
        reason = _failure(path, error)
        self.report.failed += 1
        self.report.errors.append(f"{shown(path)}: {reason}")
        if isinstance(error, BadFile | OSError | ValueError):
            logger.info("runbook file %s not imported: %s", shown(path), reason)
        else:
            logger.error("runbook file %s not imported: %s", shown(path), reason, exc_info=error)

    def prepare(self, root: Path, path: Path, relative: Path) -> _Ready | None:
        """Read, validate and render one file, outside any transaction.

        Returns what its batch must store, or None when there is nothing to
        store (unchanged, or failed: the failure is in the report). Any
        exception fails this file alone.
        """
        try:
            return self._prepare(str(root), path, relative)
        except Exception as e:  # noqa: BLE001 - one bad file never stops the others
            self.fail(path, e)
            return None

    def _prepare(self, root: str, path: Path, relative: Path) -> _Ready | None:
        rel_str, raw = read_guarded(root, path, relative)
        content_hash = hashlib.sha256(raw).hexdigest()
        if relative.name == INDEX_FILE:
            folder = relative.parent.as_posix().lower()
            folder = "" if folder == "." else folder
            check_path(relative.parent / "x")  # the folder's own path must fit
            self.seen_sections.add(folder)
            if self.sections.get(folder) == content_hash:
                return None
            return _Ready(
                path=path,
                root=root,
                rel_str=rel_str,
                content_hash=content_hash,
                section=read_section(relative, raw),
                folder=folder,
            )
        slug = slug_for(relative)
        # Seen even when it fails: its runbook keeps its revision, it is not archived.
        first = self.seen_slugs.setdefault(slug, path)
        check_path(relative)
        if first != path:
            raise BadFile(
                _("slug %(slug)s is already taken by %(other)s")
                % {"slug": slug, "other": shown(first)}
            )
        existing = self.known.get(slug)
        if existing is not None and _taken_by_other_file(existing, root):
            other = (
                shown(Path(existing.source_root) / existing.source_path)
                if existing.source_root
                else _("a runbook made by hand")
            )
            raise BadFile(
                _("slug %(slug)s is already taken by %(other)s") % {"slug": slug, "other": other}
            )
        current = existing.current_revision if existing else None
        if (
            existing is not None
            and not existing.archived
            and existing.source_root == root
            and current is not None
            and current.content_hash == content_hash
        ):
            if existing.source_path == rel_str:
                self.report.unchanged += 1
                return None
            # Renamed, case only: the same content under a new name.
            return _Ready(
                path=path, root=root, rel_str=rel_str, content_hash=content_hash, existing=existing
            )
        parsed = read_runbook(relative, raw)
        team = None
        if parsed.team_slug:
            team = self.teams.get(parsed.team_slug)
            if team is None:
                self.report.warnings.append(
                    f"{shown(path)}: "
                    + _("unknown team %(team)r; the runbook is imported without a team")
                    % {"team": parsed.team_slug}
                )
        return _Ready(
            path=path,
            root=root,
            rel_str=rel_str,
            content_hash=content_hash,
            existing=existing,
            parsed=parsed,
            team=team,
        )

    def store(self, batch: list[_Ready]) -> list[int]:
        """Write a batch of prepared files; return the ids of runbooks with a new revision.

        Call inside a transaction. The batch is written in one savepoint with
        a few statements per table; if any write fails, that savepoint rolls
        back and each file is written again in a savepoint of its own, so the
        file whose write fails (a database error, anything) fails alone and
        is recorded as its failure.
        """
        try:
            with transaction.atomic():
                stored = _store_all(batch)
        except Exception:  # noqa: BLE001 - retried file by file just below
            logger.info("runbook batch of %d files written file by file after an error", len(batch))
            stored = []
            for ready in batch:
                try:
                    with transaction.atomic():
                        stored.extend(_store_all([ready]))
                except Exception as e:  # noqa: BLE001 - one bad file never stops the others
                    self.fail(ready.path, e)
        changed = []
        for ready, runbook in stored:
            if ready.section is not None:
                continue
            if ready.parsed is None:
                self.report.unchanged += 1  # renamed only
                continue
            changed.append(runbook.pk)
            if ready.existing is None:
                self.report.created += 1
            else:
                self.report.updated += 1
        return changed


def _tell_listeners(runbook_ids: list[int]) -> None:
    """Tell the apps built on runbooks about new revisions, in a savepoint of its own:
    if a listener fails, the runbooks are still stored (readiness has a periodic
    safety net that catches up)."""
    try:
        with transaction.atomic():
            revisions_changed(runbook_ids)
    except Exception:
        logger.exception("listeners of new runbook revisions failed for %s", runbook_ids)


def _sync_drill_files(run: _Run, files: list[tuple[Path, Path, Path]]) -> None:
    """Hand each drill file to the drills app, one savepoint each; then the gone ones."""
    handler = _drill_files[0]
    seen: set[str] = set()
    folders: set[str] = set()
    for root, path, relative in files:
        folders.add(drills_folder_of(relative))
        seen.add(relative.as_posix())  # seen even when it fails: its scenario stays
        try:
            rel_str, raw = read_guarded(str(root), path, relative)
            file = FolderFile(
                root=str(root),
                rel_str=rel_str,
                raw=raw,
                content_hash=hashlib.sha256(raw).hexdigest(),
            )
            with transaction.atomic():
                outcome = handler.store(file)
        except Exception as e:  # noqa: BLE001 - one bad file never stops the others
            run.fail(path, e)
            continue
        run.report.drills[outcome] = run.report.drills.get(outcome, 0) + 1
    try:
        with transaction.atomic():
            removed = handler.forget(sorted(folders), seen)
    except Exception:
        logger.exception("drill scenarios whose file is gone could not be handled")
        removed = 0
    run.report.drills["removed"] = removed


def sync_folders(
    folders: Iterable[str | Path] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Import every runbook file below the given folders (default RUNBOOKS_DIR).

    1. List the ``*.md`` files of every folder; load, in one query, the
       runbooks those slugs already have, with their current content hash.
    2. For each file, outside any transaction: over 1 MiB fails; a slug seen
       earlier in this run, or owned by another folder whose file still
       exists, fails; a content hash equal to the current revision's is
       unchanged (no parsing, no writes). Otherwise the file is parsed,
       validated and rendered (bounded: see ``render_markdown``). Any error
       fails that file alone, recorded as ``path: reason``; its runbook keeps
       its previous revision.
    3. Every BATCH files, what was prepared is written in one short
       transaction, a few statements per table for the whole batch (file by
       file, a savepoint each, when one write fails): a new revision, alert
       names, search document and CJK search terms per runbook; ``_index.md``
       files update their folder's Section. No rendering happens while the
       write lock is held.
    4. Runbooks that came from these folders and whose file is gone (and did
       not merely fail) are archived; their sections are deleted.
    5. Alerts answered by more than one live runbook become warnings.

    Files below a ``drills`` folder are drill scenarios: after the runbooks
    (so the runbooks their steps name exist), each is read with the same
    guards and stored by the drills app in a savepoint of its own; a bad one
    is a failure named by path and reason, and its scenario keeps its
    previous revision. Scenarios of those folders whose file is gone are
    then handed back to the drills app (see docs/drill-format.md).
    """
    roots = [Path(f).resolve() for f in (folders or [settings.RUNBOOKS_DIR])]
    report = SyncReport()
    files: list[tuple[Path, Path, Path]] = []  # (root, path, relative)
    for root in roots:
        if not root.is_dir():
            report.failed += 1
            report.errors.append(f"{root}: " + _("not a folder"))
            continue
        if len(str(root)) > MAX_SOURCE_PATH:
            report.failed += 1
            report.errors.append(
                f"{root}: "
                + _("the path is longer than %(limit)d characters") % {"limit": MAX_SOURCE_PATH}
            )
            continue
        files.extend((root, path, path.relative_to(root)) for path in markdown_files(root))
    drill_files = []
    if _drill_files:
        drill_files = [item for item in files if is_drill_file(item[2])]
        files = [item for item in files if not is_drill_file(item[2])]

    slugs = {slug_for(rel) for _root, _path, rel in files if rel.name != INDEX_FILE}
    slugs = {slug for slug in slugs if _storable(slug)}
    candidates = Runbook.objects.select_related("current_revision").defer(
        "current_revision__markdown", "current_revision__html", "current_revision__toc"
    )
    if len(slugs) <= 20000:  # stay well below SQLite's limit on query parameters
        candidates = candidates.filter(slug__in=slugs)
    run = _Run(
        report=report,
        known={runbook.slug: runbook for runbook in candidates},
        sections=dict(Section.objects.values_list("path", "content_hash")),
        teams={team.slug: team for team in Team.objects.all()},
    )
    for batch_start in range(0, len(files), BATCH):
        prepared = []
        batch = files[batch_start : batch_start + BATCH]
        for done, (root, path, relative) in enumerate(batch, start=batch_start + 1):
            if progress:
                progress(done, len(files))
            ready = run.prepare(root, path, relative)
            if ready is not None:
                prepared.append(ready)
        if not prepared:
            continue
        with transaction.atomic():
            changed = run.store(prepared)
            # In the batch's transaction: what derives from a runbook's current
            # revision (a read item re-opening) changes with it.
            _tell_listeners(changed)
        report.changed_runbooks.extend(changed)

    if drill_files:
        _sync_drill_files(run, drill_files)

    root_strs = [str(root) for root in roots if root.is_dir()]
    gone = Runbook.objects.filter(source_root__in=root_strs, archived=False).exclude(
        slug__in=[slug for slug in run.seen_slugs if _storable(slug)]
    )
    report.archived = gone.update(archived=True, updated_at=timezone.now())
    if report.archived:
        alert_help.forget()  # new revisions renew it through the listener; archiving here
    Section.objects.filter(source_root__in=root_strs).exclude(
        path__in=[path for path in run.seen_sections if _storable(path)]
    ).delete()

    shared = (
        AlertName.objects.filter(runbook__archived=False)
        .values("key")
        .annotate(n=Count("runbook", distinct=True))
        .filter(n__gt=1)
        .values_list("key", flat=True)
    )
    if shared:
        by_key: dict[str, list[str]] = {}
        for key, name, slug in (
            AlertName.objects.filter(key__in=list(shared), runbook__archived=False)
            .order_by("key", "runbook__slug")
            .values_list("key", "name", "runbook__slug")
        ):
            by_key.setdefault(key, [name]).append(slug)
        for names in by_key.values():
            report.warnings.append(
                _("alert %(alert)s is answered by several runbooks: %(runbooks)s")
                % {"alert": names[0], "runbooks": ", ".join(names[1:])}
            )
    return report
