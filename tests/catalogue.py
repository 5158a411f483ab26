"""Read gettext catalogues for the translation tests: a small .po parser and checks.

Kept free of GNU gettext so the checks that matter most (nothing untranslated,
nothing fuzzy, placeholders intact, the .mo up to date) run on any machine.
"""

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

# %(name)s / %(n)d / %s / %d — the placeholders Python's % operator fills.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([sdifr%])")
NAMED = re.compile(r"%\(\w+\)[sdifr]")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr)


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file, header and obsolete (``#~``) entries left out."""
    entries: list[Entry] = []
    current = Entry()
    target: tuple[str, int | None] | None = None

    def finish():
        nonlocal current
        if current.msgid:  # the header has an empty msgid
            entries.append(current)
        current = Entry()

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            finish()
            target = None
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#,"):
            current.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            text = ast.literal_eval(line)
        else:
            text = ast.literal_eval(rest)
            if not current.line:
                current.line = number
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if keyword in ("msgid", "msgid_plural", "msgctxt"):
                target = (keyword, None)
            elif keyword == "msgstr":
                target = ("msgstr", 0)
            elif match:
                target = ("msgstr", int(match.group(1)))
            else:
                raise ValueError(f"{path}:{number}: cannot read {line[:40]!r}")
            if target[0] == "msgstr":
                current.msgstr.append("")
            else:
                setattr(current, target[0], "")
        if target is None:
            raise ValueError(f"{path}:{number}: text outside an entry")
        name, index = target
        if name == "msgstr":
            current.msgstr[index] += text
        else:
            setattr(current, name, getattr(current, name) + text)
    finish()
    return entries


def placeholders(text: str) -> list[str]:
    """The placeholders of ``text``, named ones by name, positional ones by type."""
    found = []
    for name, kind in PLACEHOLDER.findall(text):
        if kind == "%":
            continue
        found.append(f"%({name}){kind}" if name else f"%{kind}")
    return sorted(found)


def placeholder_problems(entries: list[Entry]) -> list[str]:
    """Each translation whose placeholders differ from its source's.

    Python-format entries are compared in full; others (plain text that may
    hold a literal "%") by their named placeholders only. Japanese has one
    plural form, which must carry every placeholder of singular and plural.
    """
    problems = []
    for entry in entries:
        if not entry.translated:
            continue
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural is not None else [])
        if "python-format" in entry.flags:
            wanted = set().union(*(placeholders(text) for text in sources))
        else:
            wanted = set().union(*(NAMED.findall(text) for text in sources))
        for text in entry.msgstr:
            got = (
                set(placeholders(text))
                if "python-format" in entry.flags
                else set(NAMED.findall(text))
            )
            if got != wanted:
                problems.append(
                    f"line {entry.line}: {entry.msgid[:60]!r} has {sorted(wanted)}, "
                    f"the translation {sorted(got)}"
                )
    return problems


def mo_catalogue(path: Path) -> dict:
    """What a compiled .mo holds, as Python's gettext reads it."""
    with path.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)


def expected_catalogue(entries: list[Entry]) -> dict:
    """What the .mo compiled from these entries must hold (fuzzy ones are left out)."""
    catalogue = {}
    for entry in entries:
        if "fuzzy" in entry.flags or not entry.translated:
            continue
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt is not None else entry.msgid
        if entry.msgid_plural is not None:
            for index, text in enumerate(entry.msgstr):
                catalogue[(key, index)] = text
        else:
            catalogue[key] = entry.msgstr[0]
    return catalogue
