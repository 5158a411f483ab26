"""Rendering: Markdown extras, and nothing executable comes out of a runbook."""

import re
from html.parser import HTMLParser

import pytest

from oncall.runbooks.render import render_markdown
from tests.html_elements import elements

# Each vector is Markdown a runbook author (or an attacker with commit rights)
# could write. None may produce script, event handlers, dangerous URLs, frames,
# styles or htmx attributes. The browser test loads them all in Chromium too.
XSS_VECTORS = [
    "<script>alert('xss-1')</script>",
    "<img src=x onerror=alert('xss-2')>",
    "<svg onload=alert('xss-3')></svg>",
    "<svg><script>alert('xss-4')</script></svg>",
    "[click](javascript:alert('xss-5'))",
    "[click](JaVaScRiPt:alert('xss-6'))",
    "[click](  javascript:alert('xss-7'))",
    "[click](&#106;avascript:alert('xss-8'))",
    "[click](vbscript:msgbox('xss-9'))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgneHNzLTEwJyk8L3NjcmlwdD4=)",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<a href=\"javascript:alert('xss-12')\">x</a>",
    "<iframe src=\"javascript:alert('xss-13')\"></iframe>",
    "<object data=\"javascript:alert('xss-14')\"></object>",
    "<embed src=\"javascript:alert('xss-15')\">",
    "<style>body{background:url(\"javascript:alert('xss-16')\")}</style>",
    "<div style=\"background:url(javascript:alert('xss-17'))\">styled</div>",
    "<details open ontoggle=alert('xss-18')><summary>x</summary></details>",
    '<div hx-get="/admin/" hx-trigger="load" hx-on:htmx:load="alert(\'xss-19\')">htmx</div>',
    "<form action=\"javascript:alert('xss-20')\"><button>go</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('xss-21')>",
    "<base href=\"javascript:alert('xss-22')//\">",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'xss-23\')">',
    "<a href=\"jav&#x09;ascript:alert('xss-24')\">tab</a>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert('xss-25')>\"></noscript>",
    "<input autofocus onfocus=alert('xss-26')>",
    "<body onload=alert('xss-27')>",
    '<h2 id="x" onclick="alert(\'xss-28\')">heading</h2>',
    "```html\n<script>alert('xss-29')</script>\n```",
    "<!-- <script>alert('xss-30')</script> -->",
    "<a href='https://example.com' onmouseover=\"alert('xss-31')\">hover</a>",
    "<template><script>alert('xss-32')</script></template>",
]
XSS_DOCUMENT = "# XSS corpus\n\n" + "\n\n".join(XSS_VECTORS) + "\n"

FORBIDDEN_TAGS = {
    "script", "style", "iframe", "object", "embed", "form", "input", "button", "meta",
    "base", "link", "svg", "math", "template", "noscript", "body",
}  # fmt: skip
DANGEROUS_URL = re.compile(r"^(javascript|vbscript|data):")


class _ExecutableFinder(HTMLParser):
    """Collects every real tag or attribute (not escaped text) that could run code."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith(("on", "hx-", "data-hx")) or name in ("style", "srcdoc"):
                self.found.append(f"{tag}[{name}]")
            url = re.sub(r"[\x00-\x20]", "", value or "").lower()
            if name in ("href", "src", "action", "data", "formaction") and DANGEROUS_URL.match(url):
                self.found.append(f"{tag}[{name}={value}]")


def executable_parts(html: str) -> list[str]:
    finder = _ExecutableFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def test_it_renders_nothing_executable_from_the_xss_corpus():
    assert len(XSS_VECTORS) >= 20
    html = render_markdown(XSS_DOCUMENT).html
    assert executable_parts(html) == []


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_it_neutralises_each_vector(vector):
    html = render_markdown(vector).html
    assert executable_parts(html) == [], html


def test_it_would_see_an_executable_part():
    # The checker itself must catch what it is looking for.
    assert executable_parts('<a href=" JavaScript:x">a</a><p onclick="x">b</p><script></script>')


def test_it_keeps_the_text_of_a_code_block_that_shows_html():
    html = render_markdown("```html\n<script>alert(1)</script>\n```").html
    assert "&lt;" in html and "script" in html
    assert "<script" not in html


def test_it_highlights_fenced_code_with_pygments():
    """Code sits in a highlight block, and some of it carries a token class.

    Which token gets which class is Pygments' choice; that there are classes
    (and that the sanitiser kept them) is ours.
    """
    html = render_markdown("```bash\nkubectl get pods -n payments\n```").html
    (block,) = elements(html, "div", class_="highlight")
    assert "kubectl get pods -n payments" in block.text
    assert any(span.classes for span in elements(html, "span"))


def test_it_highlights_fenced_code_inside_list_items():
    text = "1. Restart it:\n\n   ```bash\n   kubectl rollout restart deploy/api\n   ```\n\n2. Watch it.\n"
    html = render_markdown(text).html
    (block,) = elements(html, "div", class_="highlight")
    assert "kubectl rollout restart" in block.text
    assert "```" not in html
    # Numbering continues after the code block: the second list starts at 2.
    assert [ol.attrs.get("start", "1") for ol in elements(html, "ol")] == ["1", "2"]


def test_it_renders_tables():
    html = render_markdown("| a | b |\n|:--|--:|\n| 1 | 2 |\n").html
    assert len(elements(html, "table")) == 1
    assert [th.text for th in elements(html, "th")] == ["a", "b"]
    assert [(td.text, td.attrs.get("align")) for td in elements(html, "td")] == [
        ("1", "left"),
        ("2", "right"),
    ]


def test_it_gives_every_heading_an_id_and_a_link_and_builds_the_toc():
    rendered = render_markdown("# Title\n\n## Meaning\n\n### Sub part\n\n## 対処\n")
    assert [h2.attrs["id"] for h2 in elements(rendered.html, "h2")] == ["meaning", "対処"]
    assert elements(rendered.html, "a", class_="headerlink", href="#meaning")
    assert [(e["level"], e["id"]) for e in rendered.toc] == [
        (1, "title"),
        (2, "meaning"),
        (3, "sub-part"),
        (2, "対処"),
    ]
    assert rendered.first_heading == "Title"


def test_it_adds_rel_noopener_to_external_links():
    html = render_markdown("[docs](https://example.com/x)").html
    (link,) = elements(html, "a", href="https://example.com/x")
    assert set(link.attrs["rel"].split()) == {"noopener", "noreferrer"}


def test_it_points_relative_links_at_runbook_pages():
    rendered = render_markdown(
        '[a](./Other.md#mitigation) [b](../db/disk-full.md) [c]({{< ref "./Hugo.md" >}})',
        page_dir="node",
    )
    assert 'href="/runbooks/node/other/#mitigation"' in rendered.html
    assert 'href="/runbooks/db/disk-full/"' in rendered.html
    assert 'href="/runbooks/node/hugo/"' in rendered.html
    assert rendered.outside_links == []


def test_it_reports_links_out_of_the_folder():
    rendered = render_markdown("[x](../../secrets.md) [y](../up.md)", page_dir="node")
    assert rendered.outside_links == ["../../secrets.md"]
    assert "secrets" not in rendered.html


def test_it_extracts_plain_text_for_search():
    rendered = render_markdown("# 証明書の期限切れ\n\nRun `openssl` &amp; <b>check</b>.")
    assert rendered.text == "証明書の期限切れ Run openssl & check."
