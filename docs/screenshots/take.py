"""Take the README's screenshots from a running demo (`make run`), in Chromium.

    .venv/bin/python docs/screenshots/take.py [http://127.0.0.1:8000]

Signs in as each demo person and saves PNGs next to this file. Needs Chromium
(Debian's `chromium`; CHROMIUM_PATH points elsewhere) and the demo's password.
"""

import os
import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
PASSWORD = "oncall-demo"  # noqa: S105 - the public demo password
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# (file, person, path, viewport)
SHOTS = [
    ("checklist.png", "trainee", "/", DESKTOP),
    ("dashboard.png", "lead", "/", DESKTOP),
    ("runbook-phone.png", "trainee", "/runbooks/payments-db/disk-full/", PHONE),
    ("shifts.png", "lead", "/shifts/?view=month", DESKTOP),
    ("primary-home.png", "primary", "/", DESKTOP),
]


def main(base: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
        )
        for name, person, path, viewport in SHOTS:
            context = browser.new_context(viewport=viewport, is_mobile=viewport is PHONE)
            page = context.new_page()
            page.goto(f"{base}/accounts/login/")
            page.fill("input[name=username]", person)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(HERE / name))
            print(f"{name}: {person} at {path}")
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000")
