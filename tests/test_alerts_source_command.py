"""``create_alert_source`` says which site address its receiver URL is built from.

Before, it printed ``http://127.0.0.1:8000/…`` while the app ran on another
port: SITE_URL was unset and the shell running the command had no PORT.
"""

from io import StringIO

from django.core.management import call_command


def run() -> str:
    out = StringIO()
    call_command("create_alert_source", "payments", "--name", "prod", stdout=out)
    return out.getvalue()


def test_it_says_the_url_is_a_guess_when_site_url_is_unset(team, settings, monkeypatch):
    monkeypatch.delenv("SITE_URL", raising=False)
    settings.PORT, settings.SITE_URL = 9000, "http://127.0.0.1:9000"
    printed = run()
    assert "Site URL: http://127.0.0.1:9000 (SITE_URL is not set" in printed
    assert "Receiver URL: http://127.0.0.1:9000/integrations/alertmanager/" in printed


def test_it_names_site_url_when_set(team, settings, monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://oncall.example.com")
    settings.SITE_URL = "https://oncall.example.com"
    printed = run()
    assert "Site URL (SITE_URL): https://oncall.example.com" in printed
    assert "Receiver URL: https://oncall.example.com/integrations/alertmanager/" in printed
