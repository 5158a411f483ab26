"""The Japanese catalogue ships complete: every string of the code translated, none
fuzzy, placeholders intact, and the committed .mo compiled from the committed .po."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.catalogue import (
    expected_catalogue,
    mo_catalogue,
    parse_po,
    placeholder_problems,
)
from tests.stack import need

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "ja" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Where the app's own text lives: Python code and templates.
SOURCES = ["oncall", "templates"]


@pytest.fixture(scope="module")
def entries():
    return parse_po(PO)


def test_every_entry_is_translated_and_none_is_fuzzy(entries):
    untranslated = [e.msgid for e in entries if not e.translated]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert not untranslated, f"untranslated in {PO.name}: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy in {PO.name}: {fuzzy[:10]}"
    assert len(entries) > 900


def test_every_placeholder_survives_translation(entries):
    assert placeholder_problems(entries) == []


def test_a_translation_that_drops_a_placeholder_is_caught(tmp_path):
    broken = tmp_path / "django.po"
    broken.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        '#, python-format\nmsgid "%(name)s is cleared for on-call."\n'
        'msgstr "オンコール入りを認定しました。"\n\n'
        '#, python-format\nmsgid "%(n)d runbook to read"\nmsgid_plural "%(n)d runbooks to read"\n'
        'msgstr[0] "未読のランブック %(count)d 件"\n',
        encoding="utf-8",
    )
    problems = placeholder_problems(parse_po(broken))
    assert len(problems) == 2
    assert "%(name)s" in problems[0] and "%(count)d" in problems[1]


def test_the_committed_mo_is_compiled_from_the_committed_po(entries):
    # Read back through Python's gettext: a .mo older than the .po fails here,
    # whichever msgfmt version compiled it.
    compiled = mo_catalogue(MO)
    compiled.pop("", None)  # the header
    assert compiled == expected_catalogue(entries)


def test_msgfmt_accepts_the_catalogue(tmp_path):
    need(shutil.which("msgfmt") is not None, "GNU gettext (msgfmt) is not installed")
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(PO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert mo_catalogue(tmp_path / "django.mo") == mo_catalogue(MO)


def test_the_catalogue_holds_every_string_of_the_code(tmp_path, settings, monkeypatch, entries):
    """Extract afresh (templates, Python) and compare the message ids with the catalogue.

    The extraction runs on a copy of the code, so the committed catalogue is
    never rewritten by a test.
    """
    need(shutil.which("xgettext") is not None, "GNU gettext (xgettext) is not installed")
    source = tmp_path / "source"
    for folder in SOURCES:
        shutil.copytree(
            ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    settings.LOCALE_PATHS = [str(tmp_path / "locale")]
    (tmp_path / "locale").mkdir()
    monkeypatch.chdir(source)
    call_command("makemessages", locale=["ja"], keep_pot=True, no_location=True, verbosity=0)
    extracted = {e.key for e in parse_po(tmp_path / "locale" / "django.pot")}
    catalogued = {e.key for e in entries}
    assert sorted(extracted - catalogued, key=str) == [], "in the code, not in the catalogue"
    assert sorted(catalogued - extracted, key=str) == [], "in the catalogue, no longer in the code"
