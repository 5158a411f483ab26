import difflib
import functools
import hashlib
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Field, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from oncall.runbooks import alert_help, reader_pages
from oncall.runbooks.models import Revision, Runbook, Section
from oncall.runbooks.panels import panel_states, render_panels, state_subqueries
from oncall.runbooks.render import PERMALINK_TITLE
from oncall.runbooks.search import search, words_of
from oncall.runbooks.words import alert_words
from oncall.teams import ratelimit
from oncall.teams.models import Team
from oncall.teams.rows import loaded, prepared_cursor

PAGE_SIZE = 100
TAG_CHOICES = 40
FILTER_CHOICES_KEY = "runbooks:filter-choices"


def _get_runbook_for_user(request: HttpRequest, slug: str) -> Runbook:
    """Every signed-in user may read every runbook, archived ones included:
    mid-incident nobody should hit a wall. Unknown slugs are 404."""
    return get_object_or_404(Runbook.objects.select_related("team", "current_revision"), slug=slug)


def _with_tag(runbooks: QuerySet, tag: str) -> QuerySet:
    # Tags are stored one per line in the search document (portable across engines).
    lines = "search_document__tags"
    return runbooks.filter(
        Q(**{f"{lines}__iexact": tag})
        | Q(**{f"{lines}__istartswith": f"{tag}\n"})
        | Q(**{f"{lines}__iendswith": f"\n{tag}"})
        | Q(**{f"{lines}__icontains": f"\n{tag}\n"})
    )


def _filter_choices() -> tuple[list[tuple[str, str]], list[str]]:
    """Teams [(slug, name)] and the most used tags, for the search filters.

    Reading every runbook's tags is the costly part with thousands of
    runbooks, so the answer is cached for a minute: a new tag showing up in
    the filter a little late harms nobody.
    """
    cached = cache.get(FILTER_CHOICES_KEY)
    if cached is not None:
        return cached
    teams = list(
        Team.objects.filter(runbooks__archived=False)
        .distinct()
        .order_by("name")
        .values_list("slug", "name")
    )
    counts = Counter(
        tag.lower()
        for tags in Runbook.objects.filter(archived=False).values_list("tags", flat=True)
        for tag in tags
    )
    choices = (teams, sorted(tag for tag, _n in counts.most_common(TAG_CHOICES)))
    cache.set(FILTER_CHOICES_KEY, choices, 60)
    return choices


@login_required
def index(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    team = request.GET.get("team", "").strip()
    tag = request.GET.get("tag", "").strip()
    context = {"query": query, "team": team, "tag": tag, "words": words_of(query)}
    if query:
        context["hits"] = search(query, team=team, tag=tag)
    else:
        runbooks = Runbook.objects.filter(archived=False).select_related("team")
        if team:
            runbooks = runbooks.filter(team__slug=team)
        if tag:
            runbooks = _with_tag(runbooks, tag)
        page = Paginator(runbooks.order_by("slug"), PAGE_SIZE).get_page(request.GET.get("page"))
        context["page"] = page
        context["top_section"] = Section.objects.filter(path="").first()
        sections = dict(Section.objects.values_list("path", "title"))
        context["groups"] = _group_by_folder(page.object_list, sections)
    if request.htmx and request.htmx.target == "runbook-results":
        return render(request, "runbooks/index.html#results", context)
    context["teams"], context["tags"] = _filter_choices()
    return render(request, "runbooks/index.html", context)


def _group_by_folder(runbooks, sections: dict[str, str]) -> list[tuple[str, str, list[Runbook]]]:
    """[(folder, folder title, runbooks)] in slug order."""
    groups: list[tuple[str, str, list[Runbook]]] = []
    for runbook in runbooks:
        folder = runbook.folder
        if not groups or groups[-1][0] != folder:
            groups.append((folder, sections.get(folder, folder), []))
        groups[-1][2].append(runbook)
    return groups


def _section_page(request: HttpRequest, path: str) -> HttpResponse:
    section = Section.objects.filter(path=path).first()
    runbooks = list(
        Runbook.objects.filter(slug__startswith=f"{path}/", archived=False)
        .select_related("team")
        .order_by("slug")
    )
    if section is None and not runbooks:
        raise Http404(_("No runbook or folder is called %(slug)s.") % {"slug": path})
    sections = dict(Section.objects.filter(path__startswith=path).values_list("path", "title"))
    return render(
        request,
        "runbooks/section.html",
        {
            "section": section,
            "path": path,
            "title": section.title if section else path,
            "groups": _group_by_folder(runbooks, sections),
        },
    )


def _breadcrumbs(slug: str) -> list[tuple[str, str]]:
    parts = slug.split("/")[:-1]
    return [("/".join(parts[: i + 1]), part) for i, part in enumerate(parts)]


# What the runbook page shows of a runbook; nothing else is read on a visit.
PAGE_COLUMNS = (
    "slug", "title", "team__name", "service", "alerts", "tags", "owner", "review_every",
    "last_reviewed", "created_at", "source_path", "archived", "current_revision",
    "current_revision__number", "current_revision__content_hash",
    "current_revision__created_at",  # the debrief-flags card asks when it was revised
)  # fmt: skip
PAGE_CACHE_SECONDS = 24 * 60 * 60


@functools.cache
def _template_version() -> str:
    """What the page is made of besides its data, hashed: every template (the page
    includes other apps' cards), the compiled translations and the static files'
    manifest. A deploy that changes any of them changes every key and ETag."""
    digest = hashlib.sha256(getattr(staticfiles_storage, "manifest_hash", "").encode())
    folders = [Path(folder) for engine in settings.TEMPLATES for folder in engine["DIRS"]]
    folders += [Path(folder) for folder in settings.LOCALE_PATHS]
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".html", ".mo", ".txt") and path.is_file():
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _page_parts_key(runbook: Runbook, shown: tuple, today) -> str:
    """The cache key of a runbook's rendered parts: every value they show, hashed.

    ``shown`` is every value ``_page_runbook`` read. A new revision, a renamed
    team, an archived runbook, a new day (the review age), another language or
    time zone, another version of the template is another key, so a cached
    part is never stale; an unused one simply expires. The revision's content
    hash keeps a key apart from a database restored or rebuilt with the same ids.
    """
    values = (
        _template_version(), today.isoformat(), get_language(),
        timezone.get_current_timezone_name(), shown,
    )  # fmt: skip
    digest = hashlib.sha256(repr(values).encode()).hexdigest()[:32]
    return f"runbooks:page:{runbook.pk}:{digest}"


def _page_runbook(slug: str, subqueries=()) -> tuple[Runbook, tuple, list] | None:
    """The runbook as its page shows it, with its team and current revision, or None.

    It is what ``select_related("team", "current_revision").only(*PAGE_COLUMNS)``
    gives (other fields are deferred), with the values it read (for the cache
    key) and the value of each of ``subqueries`` (the panels' states, see
    runbooks/panels.py). Every visit starts here, before it knows whether its
    reader's page is cached, so it is one plain SQL statement: the ORM takes
    ten times longer to build this query than the database takes to answer it.
    """
    sql, columns = _page_select(tuple(subquery for _panel, subquery, _params in subqueries))
    params = [param for _panel, _subquery, given in subqueries for param in given]
    with prepared_cursor() as cursor:
        cursor.execute(sql, [*params, slug])
        row = cursor.fetchone()
    if row is None:
        return None
    values = {relation: {} for relation in ("", "team", "current_revision")}
    for (relation, field), value in zip(columns, row, strict=False):
        values[relation][field.attname] = value
    runbook = loaded(Runbook, values[""])
    team, revision = runbook.team_id, runbook.current_revision_id
    runbook.team = loaded(Team, {"id": team, **values["team"]}) if team else None
    runbook.current_revision = (
        loaded(Revision, {"id": revision, **values["current_revision"]}) if revision else None
    )
    shown = tuple((relation, sorted(fields.items())) for relation, fields in values.items())
    return runbook, shown, list(row[len(columns) :])


@functools.cache
def _page_select(subqueries: tuple[str, ...] = ()) -> tuple[str, list[tuple[str, Field]]]:
    """The runbook page's SELECT, and the (relation, field) of each of its columns;
    the values of ``subqueries`` follow them."""
    q = connection.ops.quote_name
    aliases = {"": "r", "team": "t", "current_revision": "v"}
    columns = [("", Runbook._meta.pk), ("", Runbook._meta.get_field("team"))]
    for name in PAGE_COLUMNS:
        relation, _sep, field = name.rpartition("__")
        model = Runbook._meta.get_field(relation).related_model if relation else Runbook
        columns.append((relation, model._meta.get_field(field)))
    select = [f"{aliases[relation]}.{q(field.column)}" for relation, field in columns]
    # Names from the models' metadata, quoted; the panels' subqueries are their
    # own constant SQL; values are parameters.
    sql = (
        f"SELECT {', '.join([*select, *subqueries])} FROM {q(Runbook._meta.db_table)} r"  # noqa: S608
        f" LEFT JOIN {q(Team._meta.db_table)} t ON t.{q('id')} = r.{q('team_id')}"
        f" LEFT JOIN {q(Revision._meta.db_table)} v ON v.{q('id')} = r.{q('current_revision_id')}"
        f" WHERE r.{q('slug')} = %s"
    )
    return sql, columns


PAGE_PARTS = ("head", "toc", "body", "history")


def _page_parts(runbook: Runbook, key: str) -> tuple[str, ...]:
    """The runbook's own parts of its page (PAGE_PARTS: title and facts, contents,
    body, history), rendered.

    They are the same for every reader, so they are rendered once per key
    (see ``_page_parts_key``); the revision's stored HTML is placed as it is.
    """
    parts = cache.get(key)
    if parts is not None:
        return parts
    revision = (
        Revision.objects.only("id", "number", "html", "toc")
        .filter(pk=runbook.current_revision_id)
        .first()
    )
    revisions = list(runbook.revisions.only("id", "number", "created_at").order_by("-number"))
    if revision is not None:
        revision.html = localised_html(revision.html)
    context = {
        "runbook": runbook,
        "revision": revision,
        "revisions": revisions,
        # The page shows the title itself; the contents start below it.
        "toc": [entry for entry in revision.toc if entry["level"] > 1] or revision.toc
        if revision
        else [],
        "breadcrumbs": _breadcrumbs(runbook.slug),
        "days_since_review": runbook.days_since_review(),
        "overdue": runbook.is_review_overdue(),
    }
    parts = tuple(render_to_string(f"runbooks/detail.html#{name}", context) for name in PAGE_PARTS)
    cache.set(key, parts, PAGE_CACHE_SECONDS)
    return parts


def localised_html(html: str) -> str:
    """A revision's stored HTML with its heading anchors' tooltip in the reader's
    language (the parts are kept per language, so this runs once per key)."""
    title = _("Link to this section")
    if title == PERMALINK_TITLE:
        return html
    return html.replace(f'title="{PERMALINK_TITLE}"', f'title="{escape(title)}"')


@login_required
def detail(request: HttpRequest, slug: str) -> HttpResponse:
    subqueries = state_subqueries(request)
    found = _page_runbook(slug, subqueries)
    if found is None:
        if slug != slug.lower():  # slugs are lower-case; someone typed the file's name
            return redirect("runbooks:detail", slug.lower())
        return _section_page(request, slug.strip("/"))
    runbook, shown, read = found
    parts_key = _page_parts_key(runbook, shown, timezone.localdate())
    states = panel_states(
        request,
        runbook,
        {panel: value for (panel, _, _), value in zip(subqueries, read, strict=True)},
    )
    key = reader_pages.page_key(request, parts_key, states)
    if key is None:
        return _render_page(request, runbook, parts_key)
    etag = reader_pages.page_etag(request, key)
    if (not_modified := get_conditional_response(request, etag=etag)) is not None:
        return reader_pages.revalidated(not_modified, etag)
    if request.META.get("QUERY_STRING"):
        # What the reader sent (the search box shows ``q``) is not kept: it
        # could fill the cache, and a page reflecting it is rendered each time.
        return reader_pages.revalidated(_render_page(request, runbook, parts_key), etag)
    page = reader_pages.reader_page(request, key, lambda: _render_page(request, runbook, parts_key))
    return reader_pages.revalidated(page, etag)


def _render_page(request: HttpRequest, runbook: Runbook, parts_key: str) -> HttpResponse:
    parts = _page_parts(runbook, parts_key)
    context = {
        name: mark_safe(part)  # noqa: S308 - rendered by our own template
        for name, part in zip(PAGE_PARTS, parts, strict=True)
    }
    return render(
        request,
        "runbooks/detail.html",
        {"runbook": runbook, **context, "panels": render_panels(request, runbook)},
    )


def _diff_rows(old: str, new: str) -> list[tuple[str, str]]:
    """[(kind, line)] of a unified diff; kind is hunk, add, del or same."""
    rows = []
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
    for line in list(lines)[2:]:  # skip the ---/+++ file headers
        if line.startswith("@@"):
            rows.append(("hunk", line))
        elif line.startswith("+"):
            rows.append(("add", line[1:]))
        elif line.startswith("-"):
            rows.append(("del", line[1:]))
        else:
            rows.append(("same", line[1:]))
    return rows


def _revision_number(value: str | None, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise Http404(_("Revision numbers are whole numbers.")) from None
    if not 1 <= number <= 2**31 - 1:
        raise Http404(_("This runbook has no such revision."))
    return number


@login_required
def diff(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = _get_runbook_for_user(request, slug)
    current = runbook.current_revision.number if runbook.current_revision else 1
    to_number = _revision_number(request.GET.get("to"), current)
    from_number = _revision_number(request.GET.get("from"), max(to_number - 1, 1))
    revisions = {
        revision.number: revision
        for revision in Revision.objects.filter(
            runbook=runbook, number__in=[from_number, to_number]
        )
    }
    if from_number not in revisions or to_number not in revisions:
        raise Http404(_("This runbook has no such revision."))
    old, new = revisions[from_number], revisions[to_number]
    numbers = list(runbook.revisions.order_by("-number").values_list("number", flat=True))
    return render(
        request,
        "runbooks/diff.html",
        {
            "runbook": runbook,
            "old": old,
            "new": new,
            "rows": _diff_rows(old.markdown, new.markdown),
            "numbers": numbers,
        },
    )


@login_required
def alert(request: HttpRequest, alertname: str = "") -> HttpResponse:
    """One step from an alert to its runbook.

    1. A name that cannot be an alert's (empty, or a template not filled in:
       a mis-templated ``runbook_url``) is a 404 page that says so, with the
       team's escalation note and the search box.
    2. Runbooks (not archived) answering the alert, case-insensitively.
    3. ``?team=`` and ``?service=`` narrow them, unless that leaves none (a
       template may always add the labels; a runbook without a team still wins).
    4. One left: 302 to it. Several: a list, status 300. None: who to page
       (the escalation note), then close matches and how to claim the alert,
       status 404 (see alert_help: kept per name, limited per person, 429
       past the limit).
    """
    team = request.GET.get("team", "").strip()
    if alertname.endswith("/") and not alert_help.malformed(alertname.rstrip("/")):
        return redirect("runbooks:alert", alertname.rstrip("/"))
    context = {"alertname": alertname}
    if problem := alert_help.malformed(alertname):
        context |= {"problem": problem, "escalations": alert_help.escalations(request.user, team)}
        return render(request, "runbooks/alert_missing.html", context, status=404)
    candidates = list(
        Runbook.objects.filter(alert_names__key=alertname.lower(), archived=False)
        .select_related("team")
        .order_by("slug")
        .distinct()
    )
    service = request.GET.get("service", "").strip()
    narrowed = candidates
    if team:
        narrowed = [rb for rb in narrowed if rb.team and rb.team.slug == team] or narrowed
    if service:
        narrowed = [rb for rb in narrowed if rb.service.lower() == service.lower()] or narrowed
    if len(narrowed) == 1:
        return redirect(narrowed[0])
    if narrowed:
        return render(
            request,
            "runbooks/alert_choices.html",
            {"alertname": alertname, "runbooks": narrowed},
            status=300,
        )
    # No runbook answers it: who to page first, then help kept for this name,
    # else worked out within the asker's limit (see alert_help).
    context["words"] = " ".join(alert_words(alertname))
    context["escalations"] = alert_help.escalations(request.user, team)
    context["help"] = alert_help.kept(alertname)
    if context["help"] is None:
        decision = ratelimit.hit(alert_help.LOOKUP_LIMIT, request.user.pk)
        if not decision.allowed:
            looked_up = _(
                "You looked up %(count)d alerts that no runbook answers in the last minute."
            ) % {"count": alert_help.LOOKUP_LIMIT.count}
            context["refusal"] = f"{looked_up} {decision.message()}"
            response = render(request, "runbooks/alert_missing.html", context, status=429)
            response["Retry-After"] = str(decision.retry_after)
            return response
        context["help"] = alert_help.work_out(alertname)
    return render(request, "runbooks/alert_missing.html", context, status=404)
