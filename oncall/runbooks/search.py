"""Runbook search: exact alert, partial alert name, title, tags and body text.

Matching is by substring, case-insensitive, so it works for English words,
parts of alert names (``CrashLoop`` finds ``KubePodCrashLooping``) and
Japanese, which has no spaces between words (``証明書`` and ``期限切れ`` both find
``証明書の期限切れ``). Every word of the query must match somewhere.

Hyphenated, spaced and joined forms of the same words find each other:
``crash-loop`` is searched as ``crash loop``, and a joined word that finds
nothing (``crashloop``) is tried as two parts that stand next to each other
in the text, with or without a space or hyphen between them.

Engines:

- SQLite: an FTS5 table with the trigram tokenizer (migration 0002) answers
  words of 3 or more characters from its index; shorter words fall back to
  LIKE over the same table.
- PostgreSQL: pg_trgm GIN indexes answer LIKE '%word%' over all searched
  text (a generated column, lower-cased when written) and ILIKE over titles,
  tags and alert keys on their own.
- Both: a Japanese (CJK) word of one or two characters (期限, 障害) has no
  trigram to look up, so each run of CJK characters is also stored as its
  characters and overlapping pairs in a btree-indexed table (SearchTerm,
  migration 0005); such a word is one index lookup there. Longer Japanese
  words go through the trigram indexes like any other.

Ranking comes in tiers, each a query of its own that stops once the page is
full: the runbook answering the query as an exact alert name; then runbooks
whose title holds every word; then alert names; then tags; then the body.
The first four tiers are sorted by title. The body tier is not sorted in the
database, so that a common word stops after one page of matches instead of
checking every runbook; its page is sorted by title afterwards.
"""

import re
from dataclasses import dataclass

from django.db import connection
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from oncall.runbooks.models import Runbook, SearchDocument, SearchTerm

MAX_WORDS = 6
MAX_WORD_LENGTH = 100
SNIPPET_CHARS = 160


class Rank:
    EXACT_ALERT = 0
    TITLE = 1
    ALERT = 2
    TAG = 3
    BODY = 4


# Where a term must stand to count for a tier (see SearchTerm.found_in).
TIER_FOUND_IN = {
    Rank.TITLE: SearchTerm.TITLE,
    Rank.ALERT: SearchTerm.ALERTS,
    Rank.TAG: SearchTerm.TAGS,
}


@dataclass
class Hit:
    runbook: Runbook
    rank: int
    title: SafeString
    snippet: SafeString


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


# Hyphens join words ("crash-loop"); underscores stay, for metric and label names.
SEPARATORS = re.compile(r"-+")
# A joined word is tried as two parts of at least this many characters each.
MIN_PART = 3


# Scripts written without spaces between words: hiragana, katakana (with ー),
# CJK ideographs, half-width katakana and Hangul syllables.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af"
CJK_RUN = re.compile(f"[{CJK}]+")
CJK_CHARACTER = re.compile(f"[{CJK}]")
# Words of fewer characters than a trigram: the trigram indexes cannot answer them.
TRIGRAM = 3


def cjk_terms(document: SearchDocument) -> list[SearchTerm]:
    """The SearchTerm rows of one search document: the characters and overlapping
    pairs of each run of CJK characters, once each, with where they stand.

    A word of one or two CJK characters stands in the text exactly where it is
    one of these terms (its characters are in the same run), so looking it
    up needs no second check against the text.
    """
    terms: dict[str, int] = {}
    for found_in, text in (
        (SearchTerm.TITLE, document.title),
        (SearchTerm.ALERTS, document.alerts),
        (SearchTerm.TAGS, document.tags),
        (SearchTerm.BODY, document.body),
    ):
        for run in CJK_RUN.findall(text):
            for at in range(len(run)):
                for term in (run[at], run[at : at + 2]):
                    terms[term] = terms.get(term, 0) | found_in
    return [
        SearchTerm(runbook_id=document.runbook_id, term=term, found_in=found_in)
        for term, found_in in terms.items()
    ]


def _terms_of(word: str) -> tuple[list[str], bool]:
    """The SearchTerms to look ``word`` up by, and whether they answer it alone.

    A CJK word of one or two characters is its own term. A shorter-than-a-
    trigram word mixing scripts (``aの``) needs each of its CJK characters and
    still a LIKE over the text. Anything else is for the trigram indexes.
    """
    if len(word) >= TRIGRAM:
        return [], False
    if CJK_RUN.fullmatch(word):
        return [word], True
    return CJK_CHARACTER.findall(word), False


def words_of(query: str) -> list[str]:
    """Split a query into distinct words, lower-cased, at most MAX_WORDS.

    Hyphens separate words like spaces do, so ``crash-loop`` and
    ``crash loop`` are the same query."""
    words: list[str] = []
    # Control characters (a NUL breaks SQLite's FTS syntax) are never meant.
    query = CONTROL_CHARACTERS.sub(" ", query)
    query = SEPARATORS.sub(" ", query)
    for word in query.split():
        word = word.lower()[:MAX_WORD_LENGTH]
        if word not in words:
            words.append(word)
    return words[:MAX_WORDS]


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _filters(team: str, tag: str) -> tuple[str, list]:
    sql, params = " AND r.archived = %s", [False]
    if team:
        sql += " AND r.team_id IN (SELECT id FROM teams_team WHERE slug = %s)"
        params.append(team)
    if tag:
        # Tags are stored one per line in the search document (portable across engines).
        sql += (
            " AND r.id IN (SELECT runbook_id FROM runbooks_searchdocument"
            " WHERE ('\n' || lower(tags) || '\n') LIKE %s ESCAPE '\\')"
        )
        params.append(_like(f"\n{tag.lower()}\n"))
    return sql, params


def _title_match(words: list[str]) -> tuple[str, str, list]:
    # Titles are short: LIKE over the runbook table (SQLite) or the title's
    # trigram index (PostgreSQL).
    if connection.vendor == "postgresql":
        source = "runbooks_runbook r JOIN runbooks_searchdocument d ON d.runbook_id = r.id"
        return source, " AND ".join("d.title ILIKE %s" for _w in words), [_like(w) for w in words]
    match = " AND ".join("r.title LIKE %s ESCAPE '\\'" for _w in words)
    return "runbooks_runbook r", match, [_like(w) for w in words]


def _alerts_match(words: list[str]) -> tuple[str, str, list]:
    # Alert keys are stored lower-cased, one row each (trigram-indexed on PostgreSQL).
    match = " AND ".join(
        "r.id IN (SELECT runbook_id FROM runbooks_alertname WHERE key LIKE %s ESCAPE '\\')"
        for _w in words
    )
    return "runbooks_runbook r", match, [_like(w) for w in words]


def _fts_match(words: list[str], column: str | None) -> tuple[str, str, list]:
    """SQLite: rows of the FTS table holding every word (in ``column``, or anywhere)."""
    long_words = [w for w in words if len(w) >= 3]
    short_words = [w for w in words if len(w) < 3]
    where, params = [], []
    if long_words:
        prefix = f"{column} : " if column else ""
        where.append("f.runbooks_search_fts MATCH %s")
        params.append(" AND ".join(prefix + _fts_phrase(w) for w in long_words))
    columns = [column] if column else ["title", "alerts", "tags", "body"]
    for word in short_words:  # under 3 characters: no trigram to look up
        where.append("(" + " OR ".join(f"f.{c} LIKE %s ESCAPE '\\'" for c in columns) + ")")
        params.extend([_like(word)] * len(columns))
    source = "runbooks_search_fts f JOIN runbooks_runbook r ON r.id = f.rowid"
    return source, " AND ".join(where), params


def _trigram_match(words: list[str], column: str | None) -> tuple[str, str, list]:
    """PostgreSQL: search documents holding every word (in ``column``, or anywhere)."""
    source = "runbooks_searchdocument d JOIN runbooks_runbook r ON r.id = d.runbook_id"
    if column:  # the trigram index of migration 0003
        return (
            source,
            " AND ".join(f"d.{column} ILIKE %s" for _w in words),
            [_like(w) for w in words],
        )
    # All the searched text, lower-cased when written (migration 0005): LIKE,
    # not ILIKE, so a row is not lower-cased again on every read. The pattern
    # is lower-cased by the database too, to agree with it on every letter.
    match = " AND ".join("d.searched LIKE lower(%s)" for _w in words)
    return source, match, [_like(w) for w in words]


def _text_match(words: list[str], column: str | None) -> tuple[str, str, list]:
    if connection.vendor == "postgresql":
        return _trigram_match(words, column)
    return _fts_match(words, column)


def _exact_alert(key: str, *, team: str, tag: str, limit: int) -> tuple[str, list]:
    """The query for ids of live runbooks that list ``key`` (lower-cased) as an alert."""
    filter_sql, filter_params = _filters(team, tag)
    sql = (
        "SELECT r.id FROM runbooks_runbook r WHERE r.id IN "  # noqa: S608 - values are params
        f"(SELECT runbook_id FROM runbooks_alertname WHERE key = %s){filter_sql} "
        "ORDER BY r.title, r.id LIMIT %s"
    )
    return sql, [key, *filter_params, limit]


def _tier(
    words: list[str], rank: int, *, earlier: list[str], team: str, tag: str, limit: int
) -> tuple[str, list]:
    """The query for ids of live runbooks matching every word for one rank tier,
    up to ``limit``, leaving out those of the ``earlier`` tiers (named queries)."""
    texts = [w for w in words if not _terms_of(w)[1]]  # words the text indexes answer
    if not texts:
        source, match, params = "runbooks_runbook r", "", []
    elif rank == Rank.TITLE:
        source, match, params = _title_match(texts)
    elif rank == Rank.ALERT:
        source, match, params = _alerts_match(texts)
    elif rank == Rank.TAG:
        source, match, params = _text_match(texts, "tags")
    else:
        source, match, params = _text_match(texts, None)
    conditions = [match] if match else []
    found_in = TIER_FOUND_IN.get(rank)  # the body tier takes a term anywhere
    for word in words:
        for term in _terms_of(word)[0]:
            if found_in:
                conditions.append(
                    "r.id IN (SELECT runbook_id FROM runbooks_searchterm"
                    " WHERE term = %s AND (found_in & %s) <> 0)"
                )
                params = [*params, term, found_in]
            else:
                conditions.append(
                    "r.id IN (SELECT runbook_id FROM runbooks_searchterm WHERE term = %s)"
                )
                params = [*params, term]
    match = " AND ".join(conditions)
    filter_sql, filter_params = _filters(team, tag)
    filter_sql += "".join(f" AND r.id NOT IN (SELECT id FROM {name})" for name in earlier)  # noqa: S608 - names of our own CTEs
    # The body tier is not sorted here: a common word then stops after `limit`
    # matches instead of checking every runbook.
    order = "" if rank == Rank.BODY else " ORDER BY r.title, r.id"
    sql = f"SELECT r.id FROM {source} WHERE {match}{filter_sql}{order} LIMIT %s"  # noqa: S608 - values are params
    return sql, [*params, *filter_params, limit]


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
    2. Tier by tier (exact alert, title, alerts, tags, body), fetch the ids of
       live runbooks that match and were not found by an earlier tier, until
       ``limit`` runbooks are found.
    3. Load those runbooks with their search documents, sort the body tier by
       title, and build highlighted snippets from the body.
    """
    words = words_of(query)
    if not words:
        return []
    exact = " ".join(words) if SEPARATORS.search(query) is None else query.strip().lower()
    ranked = _ranked(words, exact=exact, team=team, tag=tag, limit=limit)
    joined = None
    if not ranked:
        ranked, joined = _joined_word_fallback(words, team=team, tag=tag, limit=limit)
        if joined is not None:
            words = joined.words
    if not ranked:
        return []
    runbooks = Runbook.objects.select_related("team", "search_document").in_bulk(
        [pk for pk, _rank in ranked]
    )
    if joined is not None:  # the two parts must stand next to each other
        ranked = [(pk, rank) for pk, rank in ranked if joined.holds(_searchable_text(runbooks[pk]))]
    ranked.sort(key=lambda item: (item[1], runbooks[item[0]].title.lower(), item[0]))
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


def _ranked(words: list[str], *, exact: str, team: str, tag: str, limit: int) -> list[tuple]:
    """(runbook id, rank) of live runbooks holding every word, tier by tier, in one query.

    Each tier is a materialised CTE that leaves out the runbooks of the tiers
    before it; the UNION ALL reads the tiers in order and both engines stop
    once ``limit`` rows are out, so a page filled by titles never runs the
    body tier. One round trip instead of one per tier: on a busy machine
    each trip waits for the database process to be scheduled.
    """
    ctes, params, arms = [], [], []
    for rank in (Rank.EXACT_ALERT, Rank.TITLE, Rank.ALERT, Rank.TAG, Rank.BODY):
        earlier = [f"tier{r}" for r in range(rank)]
        if rank == Rank.EXACT_ALERT:
            sql, tier_params = _exact_alert(exact, team=team, tag=tag, limit=limit)
        else:
            sql, tier_params = _tier(words, rank, earlier=earlier, team=team, tag=tag, limit=limit)
        ctes.append(f"tier{rank} AS MATERIALIZED ({sql})")
        arms.append(f"SELECT id, {rank} FROM tier{rank}")  # noqa: S608 - no values
        params.extend(tier_params)
    query = f"WITH {', '.join(ctes)} {' UNION ALL '.join(arms)} LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, limit])
        return [(pk, rank) for pk, rank in cursor.fetchall()]


@dataclass
class _Joined:
    """A joined word read as two parts: ``crashloop`` as ``crash`` + ``loop``."""

    words: list[str]  # the query with the joined word replaced by its parts
    pattern: re.Pattern

    def holds(self, text: str) -> bool:
        return self.pattern.search(text) is not None


def _joined_word_fallback(
    words: list[str], *, team: str, tag: str, limit: int
) -> tuple[list[tuple], _Joined | None]:
    """When nothing matched: try each long ASCII word as two adjacent parts.

    Each split is an ordinary indexed search for both parts; the hits are then
    checked for the parts standing together (``crash loop``, ``crash-loop``,
    ``crash_looping``). At most a handful of splits are tried, the most even
    first, and only for a query that found nothing.
    """
    for at, word in enumerate(words):
        if len(word) < 2 * MIN_PART or not word.isascii() or not word.isalnum():
            continue
        middle = len(word) // 2
        cuts = sorted(range(MIN_PART, len(word) - MIN_PART + 1), key=lambda c: abs(c - middle))
        for cut in cuts[:6]:
            head, tail = word[:cut], word[cut:]
            parts = [*words[:at], head, tail, *words[at + 1 :]]
            ranked = _ranked(parts, exact=word, team=team, tag=tag, limit=limit)
            if ranked:
                pattern = re.compile(re.escape(head) + r"[\s\-_]*" + re.escape(tail), re.IGNORECASE)
                return ranked, _Joined(words=parts, pattern=pattern)
    return [], None


def _searchable_text(runbook: Runbook) -> str:
    document = runbook.search_document
    return " ".join((document.title, document.alerts, document.tags, document.body))


def suggest(words: list[str], *, limit: int = 5) -> list[Hit]:
    """Runbooks that share the most of ``words`` (an alert name's words), best first.

    For an alert no runbook answers: ``KubePodCrashLooping`` gives kube, pod,
    crash, looping, and a runbook titled "Pod is crash-looping" shares three.
    Each word is one indexed search; a runbook needs at least two words in
    common (or the only one there is), and title matches count double.
    """
    words = [w for w in words if len(w) >= 2][:MAX_WORDS]
    if not words:
        return []
    scores: dict[int, float] = {}
    shared: dict[int, int] = {}
    best: dict[int, Hit] = {}
    for word in words:
        for hit in search(word, limit=50):
            pk = hit.runbook.pk
            shared[pk] = shared.get(pk, 0) + 1
            scores[pk] = scores.get(pk, 0.0) + (2.0 if hit.rank <= Rank.ALERT else 1.0)
            best.setdefault(pk, hit)
    needed = min(2, len(words))
    ranked = sorted(
        (pk for pk in scores if shared[pk] >= needed),
        key=lambda pk: (-scores[pk], best[pk].runbook.title.lower()),
    )
    hits = []
    for pk in ranked[:limit]:
        hit = best[pk]
        body = hit.runbook.search_document.body
        hit.title = highlight_title(hit.runbook.title, words)
        hit.snippet = highlight(body, words) if any(w in body.lower() for w in words) else ""
        hits.append(hit)
    return hits
