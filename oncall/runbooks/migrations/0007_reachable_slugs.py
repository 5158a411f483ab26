"""Runbooks stored before their paths were checked get a slug a link can reach.

A file with a newline in its name was imported as a runbook whose slug no URL
can hold, so /runbooks/ and every search listing it answered 500 for everyone
(and so would any checklist or shift page linking it). ``..md`` and
``%2e%2e.md`` were imported under slugs no link reaches. The sync now refuses
such files by name (files.check_path); this moves the rows stored before:

1. Each refused segment of a slug is rewritten: control characters and
   percent signs become "-", a "." or ".." segment becomes "dot" or
   "dot-dot"; the runbook's id is added when the result is taken.
2. The runbook is archived, as the next sync would archive it: its file will
   not import again until it is renamed. Its revisions, search entry and
   read history stay, and its page opens at the new slug.
3. Folder descriptions (sections) whose path holds a refused segment are
   deleted; a sync makes them again from folders whose names pass.

Rewriting the rows once, rather than guarding each listing, mends every page
that links a runbook (index, search, checklists, shifts, coverage, the alert
redirect) at no cost to any of them, and no such row can be stored again.
"""

import re

from django.db import migrations
from django.utils import timezone

# As files.check_path was when this migration was written.
CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
PERCENT_ESCAPE = re.compile("%[0-9A-Fa-f]{2}")
DOT_SEGMENTS = {".": "dot", "..": "dot-dot"}
MAX_SLUG = 255


def refused(segment: str) -> bool:
    return bool(
        segment in DOT_SEGMENTS or CONTROL.search(segment) or PERCENT_ESCAPE.search(segment)
    )


def reachable(segment: str) -> str:
    if segment in DOT_SEGMENTS:
        return DOT_SEGMENTS[segment]
    if PERCENT_ESCAPE.search(segment):
        segment = segment.replace("%", "-")
    return CONTROL.sub("-", segment)


def forwards(apps, schema_editor):
    Runbook = apps.get_model("runbooks", "Runbook")
    Section = apps.get_model("runbooks", "Section")
    taken = set(Runbook.objects.values_list("slug", flat=True))
    now = timezone.now()
    for pk, slug in list(Runbook.objects.values_list("pk", "slug")):
        segments = slug.split("/")
        if not any(refused(segment) for segment in segments):
            continue
        new = "/".join(reachable(segment) if refused(segment) else segment for segment in segments)[
            :MAX_SLUG
        ]
        if new in taken:
            suffix = f"-{pk}"
            new = new[: MAX_SLUG - len(suffix)] + suffix
        taken.discard(slug)
        taken.add(new)
        Runbook.objects.filter(pk=pk).update(slug=new, archived=True, updated_at=now)
    bad_sections = [
        pk
        for pk, path in Section.objects.values_list("pk", "path")
        if path and any(refused(segment) for segment in path.split("/"))
    ]
    Section.objects.filter(pk__in=bad_sections).delete()


class Migration(migrations.Migration):
    dependencies = [("runbooks", "0006_cjk_search_terms")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
