"""A page shows what it means, never the template's own syntax.

Django's ``{# … #}`` comment ends on its line: written over two lines it is
printed on the page as text. The source check names any such comment in any
template; the page check reads the runbook page's visible text, where one
such comment once stood above every runbook.
"""

import re
from pathlib import Path

from django.conf import settings

from tests.html_elements import elements
from tests.test_runbooks_pages import page, samples  # noqa: F401 - the fixture

TEMPLATE_SYNTAX = re.compile(r"\{#|#\}|\{%|%\}|\{\{|\}\}")


def visible_text(html: str) -> str:
    """The text a person reads: everything but scripts, styles and tags."""
    body = re.sub(r"(?is)<(script|style|template)\b.*?</\1>", " ", html)
    return " ".join(e.text for e in elements(body, "body"))


def test_no_template_opens_a_comment_it_does_not_close_on_the_same_line():
    unclosed = []
    for path in sorted(Path(settings.BASE_DIR, "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "{#" in line and "#}" not in line[line.index("{#") :]:
                unclosed.append(f"{path.relative_to(settings.BASE_DIR)}:{number}")
    assert unclosed == []


def test_the_runbook_page_shows_no_template_syntax(samples, client_for, trainee):  # noqa: F811
    text = visible_text(page(client_for(trainee), "payments-api/error-rate-high"))
    assert "Mitigation" in text  # the runbook's own text is read
    assert TEMPLATE_SYNTAX.findall(text) == []
