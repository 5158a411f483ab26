"""Japanese search without gaps: words of one and two CJK characters come from an index.

Japanese has no spaces, and the trigram indexes (FTS5 on SQLite, pg_trgm on
PostgreSQL) cannot look up a word shorter than three characters. Each run of
CJK characters is also stored as its characters and overlapping pairs
(SearchTerm); these tests run on both engines.
"""

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oncall.runbooks.models import Runbook, SearchDocument, SearchTerm
from oncall.runbooks.search import Rank, cjk_terms, search
from oncall.runbooks.sync import sync_folders


def write(root: Path, relative: str, content: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


ROTATION = (
    "---\ntitle: Certificate rotation\ntags: [tls]\n---\n# Certificate rotation\n\n"
    "証明書の有効期限が近づいたら、手動で更新します。更新を忘れると全面障害になります。\n\n"
    "Run `rotate-certs` on the bastion for each TLS証明書.\n"
)
# Holds 期, 限, 更 and 新, never side by side: none of the two-character words.
DECOY = (
    "---\ntitle: Quarterly planning\n---\n# Quarterly planning\n\n"
    "期日までに上限を決め、新しい計画を更に見直します。\n"
)


@pytest.fixture
def library(db, team, tmp_path):
    write(tmp_path, "ops/rotation.md", ROTATION)
    write(tmp_path, "ops/decoy.md", DECOY)
    write(
        tmp_path,
        "ops/障害対応.md",
        "---\ntitle: 障害対応の流れ\n---\n# 障害対応の流れ\n\nFirst steps.\n",
    )
    report = sync_folders([settings.RUNBOOKS_DIR, tmp_path])
    assert report.ok, report.errors
    return tmp_path


def slugs(hits) -> list[str]:
    return [hit.runbook.slug for hit in hits]


@pytest.mark.parametrize("word", ["期限", "更新", "障害", "証明"])
def test_a_two_character_word_in_the_body_only_is_found(library, word):
    hits = search(word)
    rotation = next(hit for hit in hits if hit.runbook.slug == "ops/rotation")
    assert word not in rotation.runbook.title
    assert rotation.rank == Rank.BODY
    assert f"<mark>{word}</mark>" in rotation.snippet
    assert "ops/decoy" not in slugs(hits)  # its characters are there, never together


def test_two_character_words_find_the_sample_runbooks_by_their_body(library):
    assert "payments-api/certificate-expiry" in slugs(search("更新"))
    # 障害 stands in the bodies of these two (and the titles of neither).
    assert {"payments-api/certificate-expiry", "platform/dns-resolution-failures"} <= set(
        slugs(search("障害"))
    )


def test_a_one_character_word_is_found(library):
    assert {"ops/rotation", "ops/decoy"} <= set(slugs(search("更")))
    assert "ops/rotation" not in slugs(search("綾"))
    assert search("綾") == []


@pytest.mark.parametrize("word", ["証明書", "有効期限", "全面障害になります"])
def test_longer_words_are_found_in_the_body(library, word):
    assert "ops/rotation" in slugs(search(word))


def test_a_title_match_ranks_above_body_matches(library):
    hits = search("障害")
    assert slugs(hits)[0] == "ops/障害対応"
    assert hits[0].rank == Rank.TITLE
    assert {hit.rank for hit in hits[1:]} == {Rank.BODY}


def test_japanese_and_english_words_together(library):
    assert slugs(search("期限 rotation")) == ["ops/rotation"]
    assert slugs(search("rotate-certs 更新")) == ["ops/rotation"]
    assert set(slugs(search("tls 障害 証明書"))) == {
        "ops/rotation",
        "payments-api/certificate-expiry",
    }
    assert search("期限 nothing-like-this") == []
    assert search("期限 綾") == []


def test_a_short_word_mixing_scripts_is_found(library):
    assert slugs(search("S証")) == ["ops/rotation"]  # "TLS証明書"
    assert search("X証") == []


def test_filters_apply_to_indexed_words(library, team):
    assert "ops/rotation" in slugs(search("障害", tag="tls"))
    assert slugs(search("障害", tag="nothing")) == []
    assert "ops/rotation" not in slugs(search("障害", team=team.slug))


def test_a_short_japanese_word_is_answered_from_the_index_alone(library):
    """The word is looked up as a term, never matched against the text.

    A term planted for a runbook whose text does not hold it finds that
    runbook; a search that read the text (LIKE over documents, or a trigram
    index scan) would not, and would send the word as a LIKE pattern.
    """
    decoy = Runbook.objects.get(slug="ops/decoy")
    SearchTerm.objects.create(runbook=decoy, term="綾羅", found_in=SearchTerm.BODY)
    with CaptureQueriesContext(connection) as queries:
        hits = search("綾羅")
    assert slugs(hits) == ["ops/decoy"]
    sql = "\n".join(query["sql"] for query in queries.captured_queries)
    assert "runbooks_searchterm" in sql
    assert "%綾羅%" not in sql


def test_the_terms_follow_each_new_revision_and_removal(library):
    rotation = Runbook.objects.get(slug="ops/rotation")
    document = SearchDocument.objects.get(runbook=rotation)
    stored = {(t.term, t.found_in) for t in SearchTerm.objects.filter(runbook=rotation)}
    assert stored == {(t.term, t.found_in) for t in cjk_terms(document)}
    assert ("障害", SearchTerm.BODY) in stored

    write(library, "ops/rotation.md", ROTATION.replace("全面障害", "停止"))
    sync_folders([library])
    assert "ops/rotation" not in slugs(search("障害"))
    assert "ops/rotation" in slugs(search("停止"))
    assert not SearchTerm.objects.filter(runbook=rotation, term="障害").exists()

    (library / "ops/rotation.md").unlink()
    sync_folders([library])
    assert "ops/rotation" not in slugs(search("停止"))  # archived
    rotation.delete()
    assert not SearchTerm.objects.filter(runbook_id=rotation.pk).exists()


def test_terms_are_characters_and_pairs_of_each_run(db):
    document = SearchDocument(
        runbook_id=1, title="証明書 TLS", alerts="", tags="障害", body="期限（14日）切れ"
    )
    terms = {t.term: t.found_in for t in cjk_terms(document)}
    assert terms == {
        "証": SearchTerm.TITLE,
        "明": SearchTerm.TITLE,
        "書": SearchTerm.TITLE,
        "証明": SearchTerm.TITLE,
        "明書": SearchTerm.TITLE,
        "障": SearchTerm.TAGS,
        "害": SearchTerm.TAGS,
        "障害": SearchTerm.TAGS,
        "期": SearchTerm.BODY,
        "限": SearchTerm.BODY,
        "期限": SearchTerm.BODY,
        "日": SearchTerm.BODY,
        "切": SearchTerm.BODY,
        "れ": SearchTerm.BODY,
        "切れ": SearchTerm.BODY,
    }


def test_a_short_japanese_search_query_count_is_pinned(library, django_assert_max_num_queries):
    # One query for the five tiers (exact alert, title, alerts, tags, body), one for the hits.
    with django_assert_max_num_queries(2):
        assert search("期限")
