"""Runbook search: exact alert, partial alert name, title, tags and body text.

Matching is by substring, case-insensitive, so it works for English words,
parts of alert names (``CrashLoop`` finds ``KubePodCrashLooping``) and
Japanese, which has no spaces between words (``証明書`` and ``期限切れ`` both find
``証明書の期限切れ``). Every word of the query must match somewhere.

Engines:

- SQLite: an FTS5 table with the trigram tokenizer (migration 0002) answers
  words of 3 or more characters from its index; shorter words fall back to
  LIKE over the same table.
- PostgreSQL: a pg_trgm GIN index over all searched text answers ILIKE
  '%word%' (also for short words, by scanning when the index cannot help).

Ranking: a runbook that answers the query as an exact alert name comes first,
then runbooks whose title holds every word, then alert names, then tags,
then the body; ties by title.
"""

import re
from dataclasses import dataclass

from django.db import connection
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from oncall.runbooks.models import Runbook

MAX_WORDS = 6
MAX_WORD_LENGTH = 100
SNIPPET_CHARS = 160


class Rank:
    EXACT_ALERT = 0
    TITLE = 1
    ALERT = 2
    TAG = 3
    BODY = 4


@dataclass
class Hit:
    runbook: Runbook
    rank: int
    title: SafeString
    snippet: SafeString


def words_of(query: str) -> list[str]:
    """Split a query into distinct words, lower-cased, at most MAX_WORDS."""
    words: list[str] = []
    for word in query.split():
        word = word.lower()[:MAX_WORD_LENGTH]
        if word not in words:
            words.append(word)
    return words[:MAX_WORDS]


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _rank_sql(words: list[str], column_of) -> tuple[str, list]:
    """CASE expression giving the rank tier of a matching row."""
    params: list = []
    parts = []
    for column, rank in (("title", Rank.TITLE), ("alerts", Rank.ALERT), ("tags", Rank.TAG)):
        checks = " AND ".join(f"instr(lower({column_of(column)}), %s) > 0" for _w in words)
        params.extend(words)
        parts.append(f"WHEN {checks} THEN {rank}")
    sql = (
        "CASE WHEN EXISTS (SELECT 1 FROM runbooks_alertname a "  # noqa: S608 - values are params
        "WHERE a.runbook_id = r.id AND a.key = %s) THEN 0 " + " ".join(parts) + " ELSE 4 END"
    )
    return sql, [" ".join(words), *params]


def _filters(team: str, tag: str) -> tuple[str, list]:
    sql, params = " AND r.archived = %s", [False]
    if team:
        sql += " AND r.team_id IN (SELECT id FROM teams_team WHERE slug = %s)"
        params.append(team)
    if tag:
        # Tags are stored one per line in the search document.
        sql += " AND ('\n' || lower(d.tags) || '\n') LIKE %s ESCAPE '\\'"
        params.append(_like(f"\n{tag.lower()}\n"))
    return sql, params


def _sqlite_query(words: list[str], team: str, tag: str, limit: int) -> tuple[str, list]:
    long_words = [w for w in words if len(w) >= 3]
    short_words = [w for w in words if len(w) < 3]
    rank_sql, rank_params = _rank_sql(words, lambda column: f"d.{column}")
    where, params = [], []
    if long_words:
        where.append("f.runbooks_search_fts MATCH %s")
        params.append(" AND ".join(_fts_phrase(w) for w in long_words))
    for word in short_words:
        where.append(
            "(f.title LIKE %s ESCAPE '\\' OR f.alerts LIKE %s ESCAPE '\\' "
            "OR f.tags LIKE %s ESCAPE '\\' OR f.body LIKE %s ESCAPE '\\')"
        )
        params.extend([_like(word)] * 4)
    filter_sql, filter_params = _filters(team, tag)
    sql = (
        f"SELECT r.id, {rank_sql} AS rank FROM runbooks_search_fts f "  # noqa: S608 - values are params
        "JOIN runbooks_searchdocument d ON d.runbook_id = f.rowid "
        "JOIN runbooks_runbook r ON r.id = d.runbook_id "
        f"WHERE {' AND '.join(where)}{filter_sql} ORDER BY rank, r.title, r.id LIMIT %s"
    )
    return sql, [*rank_params, *params, *filter_params, limit]


def _postgres_query(words: list[str], team: str, tag: str, limit: int) -> tuple[str, list]:
    rank_sql, rank_params = _rank_sql(words, lambda column: f"d.{column}")
    rank_sql = rank_sql.replace("instr(lower(", "strpos(lower(")
    document = "(d.title || ' ' || d.alerts || ' ' || d.tags || ' ' || d.body)"
    where = " AND ".join(f"{document} ILIKE %s" for _w in words)
    filter_sql, filter_params = _filters(team, tag)
    sql = (
        f"SELECT r.id, {rank_sql} AS rank FROM runbooks_searchdocument d "  # noqa: S608 - values are params
        "JOIN runbooks_runbook r ON r.id = d.runbook_id "
        f"WHERE {where}{filter_sql} ORDER BY rank, r.title, r.id LIMIT %s"
    )
    return sql, [*rank_params, *[_like(w) for w in words], *filter_params, limit]


def _pattern(words: list[str]) -> re.Pattern | None:
    words = [w for w in words if w]
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.I)


def _marked(text: str, pattern: re.Pattern | None) -> str:
    """``text`` escaped piece by piece, with our own <mark> around each match."""
    pieces, cursor = [], 0
    for match in pattern.finditer(text) if pattern else ():
        pieces.append(str(escape(text[cursor : match.start()])))
        pieces.append(f"<mark>{escape(match.group(0))}</mark>")
        cursor = match.end()
    pieces.append(str(escape(text[cursor:])))
    return "".join(pieces)


def highlight(text: str, words: list[str], *, width: int = SNIPPET_CHARS) -> SafeString:
    """A window of ``text`` around the first match, escaped, matches in <mark>.

    Matches are found in the raw text; each piece is escaped on its own and
    only our own <mark> tags are added, so nothing in a runbook becomes markup.
    """
    pattern = _pattern(words)
    first = pattern.search(text) if pattern else None
    start = max(0, first.start() - width // 3) if first else 0
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(text) else ""
    return mark_safe(prefix + _marked(text[start : start + width], pattern) + suffix)  # noqa: S308


def highlight_title(title: str, words: list[str]) -> SafeString:
    """The whole title, escaped, with matched words in <mark>."""
    return mark_safe(_marked(title, _pattern(words)))  # noqa: S308 - escaped in _marked


def search(query: str, *, team: str = "", tag: str = "", limit: int = 50) -> list[Hit]:
    """Runbooks matching every word of ``query``, best first, with snippets.

    1. Split the query into words (lower-cased).
    2. One SQL query (per engine, see the module docstring) returns the ids of
       live runbooks matching every word, with their rank tier, sorted and
       limited.
    3. Load those runbooks with their search documents and build a highlighted
       snippet from the body (or the title when the body does not match).
    """
    words = words_of(query)
    if not words:
        return []
    if connection.vendor == "postgresql":
        sql, params = _postgres_query(words, team, tag, limit)
    else:
        sql, params = _sqlite_query(words, team, tag, limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ranked = cursor.fetchall()
    if not ranked:
        return []
    runbooks = Runbook.objects.select_related("team", "search_document").in_bulk(
        [pk for pk, _rank in ranked]
    )
    hits = []
    for pk, rank in ranked:
        runbook = runbooks[pk]
        body = runbook.search_document.body
        snippet = highlight(body, words) if any(w in body.lower() for w in words) else ""
        hits.append(
            Hit(
                runbook=runbook,
                rank=rank,
                title=highlight_title(runbook.title, words),
                snippet=mark_safe(snippet),  # noqa: S308 - built by highlight()
            )
        )
    return hits
