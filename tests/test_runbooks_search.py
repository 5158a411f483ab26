"""Search: by alert name (exact and partial), title, tags and body, English and Japanese.

The same tests run on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm).
"""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from oncall.runbooks.models import Runbook
from oncall.runbooks.search import Rank, highlight, search
from oncall.runbooks.sync import sync_folders


def write(root: Path, relative: str, content: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


@pytest.fixture
def library(db, team, other_team, tmp_path):
    """A small library: the sample runbooks plus a few made for ranking cases."""
    write(
        tmp_path,
        "kubernetes/KubePodCrashLooping.md",
        "---\ntitle: Kube Pod Crash Looping\ntags: [pods]\n---\n# KubePodCrashLooping\n\n"
        "Pod is in CrashLoop: the app dies and kubernetes restarts it.\n",
    )
    write(
        tmp_path,
        "kubernetes/mentions.md",
        "---\ntitle: Pods restarting\nteam: platform\n---\n# Pods restarting\n\n"
        "Often fires together with KubePodCrashLooping; check that first.\n",
    )
    write(
        tmp_path,
        "storage/restarts.md",
        "---\ntitle: Storage node restarting\ntags: [storage, crashloop]\n---\n"
        "# Storage\n\nText about `<disks>` & 100% usage_of the_volume.\n",
    )
    write(
        tmp_path,
        "storage/old.md",
        "---\ntitle: Removed crashloop page\n---\n# Removed\n",
    )
    sync_folders([settings.RUNBOOKS_DIR, tmp_path])
    (tmp_path / "storage/old.md").unlink()
    sync_folders([tmp_path])
    return tmp_path


def slugs(hits) -> list[str]:
    return [hit.runbook.slug for hit in hits]


def test_an_exact_alert_name_comes_first(library):
    hits = search("KubePodCrashLooping")
    assert slugs(hits)[0] == "kubernetes/kubepodcrashlooping"
    assert hits[0].rank == Rank.EXACT_ALERT
    assert "kubernetes/mentions" in slugs(hits)  # mentioned in its body, ranked below


def test_an_exact_alert_name_is_case_insensitive(library):
    assert slugs(search("kubepodcrashlooping"))[0] == "kubernetes/kubepodcrashlooping"


@pytest.mark.parametrize("query", ["CrashLoop", "crashloop", "CRASHLOOPING", "PodCrash"])
def test_part_of_an_alert_name_finds_it(library, query):
    assert "kubernetes/kubepodcrashlooping" in slugs(search(query))


def test_control_characters_in_a_query_are_ignored(library, client_for, trainee):
    assert "kubernetes/kubepodcrashlooping" in slugs(search("Crash\x00Loop"))
    response = client_for(trainee).get(reverse("runbooks:index"), {"q": "abc\x00def"})
    assert response.status_code == 200


def test_title_matches_rank_above_body_matches(library):
    hits = search("restarting")
    assert slugs(hits)[:2] == ["kubernetes/mentions", "storage/restarts"]
    assert {hit.rank for hit in hits[:2]} == {Rank.TITLE}


def test_tags_are_searched(library):
    hits = search("storage")
    assert "storage/restarts" in slugs(hits)
    hits = search("pods")
    assert "kubernetes/kubepodcrashlooping" in slugs(hits)


def test_body_text_is_searched(library):
    assert slugs(search("WAL")) != []
    assert "kubernetes/kubepodcrashlooping" in slugs(search("kubernetes restarts"))


def test_every_word_must_match(library):
    assert slugs(search("crashloop storage")) == ["storage/restarts"]
    assert search("crashloop nothing-like-this") == []


@pytest.mark.parametrize("query", ["証明書", "期限切れ", "証明書の期限切れ"])
def test_japanese_words_find_the_certificate_runbook(library, query):
    assert "payments-api/certificate-expiry" in slugs(search(query))


def test_a_two_character_japanese_word_is_found(library):
    # Shorter than a trigram: answered by LIKE on SQLite.
    assert "payments-api/certificate-expiry" in slugs(search("期限"))


def test_japanese_in_a_title_ranks_as_a_title_match(library):
    hits = search("レプリケーション")
    assert slugs(hits)[0] == "payments-db/replication-lag"
    assert hits[0].rank == Rank.TITLE


def test_like_wildcards_are_literal(library):
    assert slugs(search("100%")) == ["storage/restarts"]
    assert slugs(search("usage_of")) == ["storage/restarts"]
    assert search("%%%") == []
    assert search("___") == []


def test_archived_runbooks_are_not_found(library):
    assert Runbook.objects.get(slug="storage/old").archived
    assert "storage/old" not in slugs(search("removed crashloop"))


def test_filters_by_team_and_tag(library):
    assert slugs(search("restarting", team="platform")) == ["kubernetes/mentions"]
    assert slugs(search("restarting", tag="storage")) == ["storage/restarts"]
    assert slugs(search("restarting", tag="Crashloop")) == ["storage/restarts"]
    assert search("restarting", team="nobody") == []


def test_snippets_are_escaped_and_highlighted(library):
    hit = next(h for h in search("disks") if h.runbook.slug == "storage/restarts")
    assert "<mark>disks</mark>" in hit.snippet
    assert "&lt;<mark>disks</mark>&gt; &amp; 100%" in hit.snippet
    assert "<disks>" not in hit.snippet


def test_highlight_never_lets_markup_through():
    snippet = highlight('<img src=x onerror="alert(1)"> find me', ["find", "img"])
    assert snippet.startswith("&lt;<mark>img</mark> src=x onerror=&quot;alert(1)&quot;&gt;")
    assert "<mark>find</mark>" in snippet
    assert highlight("a & b", ["amp"]) == "a &amp; b"


def test_the_search_page_shows_ranked_highlighted_results(library, client_for, trainee):
    response = client_for(trainee).get(reverse("runbooks:index"), {"q": "crashloop"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<mark>" in body
    assert body.index("Kube Pod Crash Looping") < body.index("Storage node restarting")
    assert "Removed crashloop page" not in body


def test_the_search_page_escapes_the_query(library, client_for, trainee):
    response = client_for(trainee).get(reverse("runbooks:index"), {"q": "<script>x</script>"})
    assert "<script>x</script>" not in response.content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in response.content.decode()


def test_htmx_gets_only_the_results(library, client_for, trainee):
    response = client_for(trainee).get(
        reverse("runbooks:index"),
        {"q": "証明書"},
        headers={"HX-Request": "true", "HX-Target": "runbook-results"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="runbook-results"')
    assert "<html" not in body
    assert "payments-api/certificate-expiry" in body


def test_the_search_page_works_without_javascript(library, client_for, trainee):
    response = client_for(trainee).get(reverse("runbooks:index"))
    body = response.content.decode()
    assert 'method="get" action="/runbooks/"' in body
    assert 'name="q"' in body
    assert 'hx-get="/runbooks/"' in body


def test_the_search_page_query_count_is_pinned(
    library, client_for, trainee, django_assert_max_num_queries
):
    client = client_for(trainee)
    cache.clear()
    # session, user, the header's lead team, filter choices (teams, tags), and the
    # search: one query for its five tiers (exact alert, title, alerts, tags, body)
    # and one for the hits.
    with django_assert_max_num_queries(7):
        response = client.get(reverse("runbooks:index"), {"q": "pod"})
    assert response.status_code == 200


def test_the_index_lists_runbooks_by_folder_with_filters(library, client_for, trainee):
    client = client_for(trainee)
    body = client.get(reverse("runbooks:index")).content.decode()
    assert "payments-api" in body and "Kube Pod Crash Looping" in body
    assert "Removed crashloop page" not in body
    body = client.get(reverse("runbooks:index"), {"team": "platform"}).content.decode()
    assert "Pods restarting" in body
    assert "Kube Pod Crash Looping" not in body
    body = client.get(reverse("runbooks:index"), {"tag": "pods"}).content.decode()
    assert "Kube Pod Crash Looping" in body
    assert "Pods restarting" not in body


def test_search_needs_sign_in(library, client):
    response = client.get(reverse("runbooks:index"), {"q": "x"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
