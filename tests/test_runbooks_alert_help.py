"""An alert with no runbook is not a dead end; hyphenated, spaced and joined words find each other."""

import pytest
from django.urls import reverse

from oncall.runbooks import alert_help
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


def test_the_help_for_a_name_is_kept_until_the_runbooks_change(
    library, tmp_path, client_for, trainee, django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    client = client_for(trainee)
    url = reverse("runbooks:alert", args=["KubePodCrashLooping"])
    assert 'href="/runbooks/pods/crash/"' in client.get(url).content.decode()
    # Asked again: the session, the alert's runbooks and the teams' escalation
    # notes are read (and the header's one question), the help is kept.
    with django_assert_max_num_queries(4):
        again = client.get(url)
    assert again.status_code == 404 and 'href="/runbooks/pods/crash/"' in again.content.decode()
    # A sync that makes a runbook about these words, and one that archives one.
    (tmp_path / "pods" / "kube.md").write_text("# Kube pod crash looping\n\nRestart it.\n")
    (tmp_path / "pods" / "crash.md").unlink()
    with django_capture_on_commit_callbacks(execute=True):
        report = sync_folders([tmp_path])
    assert (report.created, report.archived) == (1, 1)
    page = client.get(url).content.decode()
    assert 'href="/runbooks/pods/kube/"' in page and "/runbooks/pods/crash/" not in page


def test_working_out_help_is_limited_per_person(library, client_for, trainee, lead):
    client = client_for(trainee)
    for n in range(alert_help.LOOKUP_LIMIT.count):
        assert client.get(reverse("runbooks:alert", args=[f"NoSuchAlert{n}"])).status_code == 404
    refused = client.get(reverse("runbooks:alert", args=["PodCrashLooping"]))
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    page = refused.content.decode()
    assert "You looked up 30 alerts that no runbook answers in the last minute." in page
    assert 'name="q" value="pod crash looping"' in page  # the search box still works
    assert "/runbooks/pods/crash/" not in page  # nothing was worked out
    # Help already kept costs nothing and is still given; another person has their own limit.
    assert client.get(reverse("runbooks:alert", args=["NoSuchAlert0"])).status_code == 404
    other = client_for(lead).get(reverse("runbooks:alert", args=["PodCrashLooping"]))
    assert other.status_code == 404 and "/runbooks/pods/crash/" in other.content.decode()


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/runbooks/alert/", "names no alert"),
        ("/runbooks/alert/%7B%7B%20$labels.alertname%20%7D%7D", "was not filled in"),
        ("/runbooks/alert/%7B%7B%24labels.alertname%7D%7D", "was not filled in"),
        ("/runbooks/alert/Disk%00Full", "was not filled in"),
        ("/runbooks/alert/Kube/PodCrashLooping", "was not filled in"),
    ],
)
def test_a_mis_templated_link_is_a_404_page_that_says_so(
    library, client_for, trainee, settings, debug, path, why
):
    """A runbook_url whose template went wrong is a page that says so, in every
    mode: never Django's technical 404 under ``make run`` (DEBUG on)."""
    settings.DEBUG = debug
    response = client_for(trainee).get(path)
    assert response.status_code == 404
    page = response.content.decode()
    assert "This alert link names no alert" in page and why in page
    assert 'id="alert-search"' in page and "Who to page" in page
    assert "technical_404" not in page and "Using the URLconf" not in page


def test_a_trailing_slash_is_forgiven(library, client_for, trainee):
    response = client_for(trainee).get("/runbooks/alert/PaymentsApiHighLatency/")
    assert response.status_code == 302
    assert response["Location"] == "/runbooks/alert/PaymentsApiHighLatency"


def test_the_sign_in_page_promises_only_what_follows(client, db):
    page = client.get("/accounts/login/?next=/runbooks/alert/NoSuchAlert").content.decode()
    assert "Sign in to open the runbook for NoSuchAlert" in page
    assert "who to page when none does" in page
