"""A real OpenID Connect provider for the tests: the oidc-provider package from
npm, run by Node.js on a free loopback port (see provider.mjs beside this file).

Its packages live in this folder's node_modules, installed with ``npm ci``
from package-lock.json the first time a test needs them (CI may run that
step up front).
"""

import json
import os
import shutil
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest
from django.core.cache import cache

from tests.stack import free_port, need

HERE = Path(__file__).resolve().parent
CLIENT_ID = "oncall"
MIN_NODE = (20, 19)
CLIENT_SECRET = "a-long-client-secret-for-the-tests"


def _require_node() -> str:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not (node and npm):
        message = (
            "Node.js and npm are needed for the OpenID Connect provider: apt-get install nodejs npm"
        )
        need(False, message)
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if tuple(int(n) for n in version.lstrip("v").split(".")[:2]) < MIN_NODE:
        message = (
            f"Node.js {version} is too old for oidc-provider: it needs "
            f"{MIN_NODE[0]}.{MIN_NODE[1]} or newer (Debian 13's nodejs, or NodeSource's)"
        )
        need(False, message)
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci in the test provider's folder failed:\n{done.stderr[-2000:]}")
    return node


class Provider:
    """One provider process; ``with Provider(...) as idp:`` starts and stops it."""

    def __init__(self, *, rp_urls: list[str], accounts: dict, port: int | None = None):
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.config = {
            "port": self.port,
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [f"{url}/accounts/oidc/callback/" for url in rp_urls],
                    "post_logout_redirect_uris": [f"{url}/accounts/login/" for url in rp_urls],
                }
            ],
            "accounts": accounts,
        }
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []

    def start(self) -> "Provider":
        node = _require_node()
        self.process = subprocess.Popen(
            [node, str(HERE / "provider.mjs")],
            cwd=HERE,
            env={**os.environ, "OIDC_TEST_CONFIG": json.dumps(self.config)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def read() -> None:
            for line in self.process.stdout:
                self.output.append(line)
                if line.startswith("listening "):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30):
            self.stop()
            pytest.fail("the OpenID Connect provider did not start:\n" + "".join(self.output))
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def tamper(self, mode: str | None) -> None:
        """Make the token endpoint hand out forged ID tokens (None: honest again)."""
        query = f"?mode={mode}" if mode else ""
        with urllib.request.urlopen(f"{self.issuer}/_test/tamper{query}", timeout=10) as r:
            assert json.load(r) == {"tamper": mode}

    def __enter__(self) -> "Provider":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def configure(settings, issuer: str, **extra) -> None:
    """Point the app (this process's settings) at a provider, forgetting what
    an earlier test's provider on the same port said (or that it was down)."""
    cache.delete(f"oidc:discovery:{issuer}")
    settings.OIDC_ISSUER = issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_SCOPES = "openid email profile groups"
    settings.OIDC_PROVIDER_NAME = "Example SSO"
    for name, value in extra.items():
        setattr(settings, name, value)


def idp_sign_in(page, login: str) -> None:
    """Fill in oidc-provider's own login form, then its consent form when it asks.

    The consent page is shown the first time a person signs in to the client;
    after that the provider goes straight back.
    """
    page.wait_for_selector("input[name=login]")
    issuer = page.url.split("/interaction/")[0]
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")
    consent = "input[name=prompt][value=consent]"
    page.wait_for_function(
        "([issuer, consent]) => !location.href.startsWith(issuer)"
        " || document.querySelector(consent) !== null",
        arg=[issuer, consent],
    )
    if page.url.startswith(issuer):
        page.click("button[type=submit]")
