"""The kube-prometheus runbooks, as a real team would import them."""

import pytest
from django.urls import reverse

from oncall.runbooks.models import Runbook
from oncall.runbooks.search import search
from oncall.runbooks.sync import sync_folders


@pytest.fixture
def corpus(db, corpus_dir):
    report = sync_folders([corpus_dir])
    return corpus_dir, report


def test_it_syncs_the_corpus_without_failures(corpus):
    corpus_dir, report = corpus
    assert report.errors == []
    assert report.failed == 0
    files = [p for p in corpus_dir.rglob("*.md") if p.name != "_index.md"]
    assert report.created == len(files) == Runbook.objects.count()
    again = sync_folders([corpus_dir])
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(files))


def test_every_alert_name_resolves(corpus, client_for, trainee):
    corpus_dir, _report = corpus
    names = (corpus_dir.parent / "kube-prometheus-alertnames.txt").read_text().split()
    assert len(names) == 108
    client = client_for(trainee)
    for name in names:
        response = client.get(reverse("runbooks:alert", args=[name]))
        assert response.status_code == 302, name
        runbook = Runbook.objects.get(alert_names__key=name.lower())
        assert response["Location"] == runbook.get_absolute_url()
        assert runbook.source_path.endswith(f"/{name}.md")


def test_part_of_an_alert_name_finds_it_in_the_corpus(corpus):
    for query in ("CrashLoop", "crashloop"):
        slugs = [hit.runbook.slug for hit in search(query)]
        assert "kubernetes/kubepodcrashlooping" in slugs


def test_hugo_refs_in_the_corpus_link_to_runbook_pages(corpus, client_for, trainee):
    runbook = Runbook.objects.get(slug="node/nodefilesystemalmostoutoffiles")
    assert "{{<" not in runbook.current_revision.html
    assert 'href="/runbooks/node/nodefilesystemfilesfillingup/"' in runbook.current_revision.html
