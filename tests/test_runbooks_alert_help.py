"""An alert with no runbook is not a dead end; hyphenated, spaced and joined words find each other."""

import pytest
from django.urls import reverse

from oncall.runbooks.search import search
from oncall.runbooks.sync import sync_folders
from oncall.runbooks.words import alert_words


@pytest.fixture
def library(db, tmp_path):
    files = {
        "pods/crash.md": "# Pod is crash-looping\n\nA container keeps restarting: check its logs.\n",
        "pods/oom.md": "# Pod killed for memory\n\nThe kernel ended the process.\n",
        "payments/latency.md": "---\nalerts: [PaymentsApiHighLatency, PaymentsApiHighErrorRate]\n---\n"
        "# Payments API latency high\n\nCheck the acquirer.\n",
        "net/loop.md": "# Routing loop\n\nA crash loop in the router.\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    assert sync_folders([tmp_path]).ok


def test_it_splits_alert_names_into_words():
    assert alert_words("KubePodCrashLooping") == ["kube", "pod", "crash", "looping"]
    assert alert_words("etcdHighNumberOfFailedGRPCRequests") == [
        "etcd", "high", "number", "of", "failed", "grpc", "requests",
    ]  # fmt: skip
    assert alert_words("PaymentsApiHighLatencyP99") == [
        "payments",
        "api",
        "high",
        "latency",
        "p",
        "99",
    ]


@pytest.mark.parametrize("query", ["crashloop", "crash-loop", "crash loop", "CrashLoop"])
def test_hyphenated_spaced_and_joined_forms_find_each_other(library, query):
    assert {hit.runbook.slug for hit in search(query)} == {"pods/crash", "net/loop"}


def test_a_joined_word_needs_its_parts_side_by_side(library):
    # "pod" and "killed" are both in pods/oom, but never as "podkilled"'s neighbours.
    assert [hit.runbook.slug for hit in search("podkilled")] == ["pods/oom"]
    assert search("memorykernel") == []


def test_the_404_suggests_runbooks_by_the_alert_names_words(library, client_for, trainee):
    response = client_for(trainee).get(reverse("runbooks:alert", args=["KubePodCrashLooping"]))
    assert response.status_code == 404
    page = response.content.decode()
    suggested = page[page.index("Runbooks about") :]
    assert 'href="/runbooks/pods/crash/"' in suggested
    # The search box holds the words, not the raw name; the author's hint is folded away.
    assert 'name="q" value="kube pod crash looping"' in page
    assert '<details class="card claim-hint">' in page
    assert "alerts: [KubePodCrashLooping]" in page


def test_a_prefix_offers_the_alerts_that_start_with_it(library, client_for, trainee):
    page = client_for(trainee).get(reverse("runbooks:alert", args=["PaymentsApiHigh"]))
    assert page.status_code == 404
    text = page.content.decode()
    assert "Alerts that start with it" in text
    assert "PaymentsApiHighLatency" in text and "PaymentsApiHighErrorRate" in text
