"""Markdown to safe HTML: the one place a runbook body is rendered.

A revision is rendered once, when the sync stores it; page views read the
stored HTML and never run this code.
"""

import functools
import html
import posixpath
import re
from dataclasses import dataclass, field

import markdown
import nh3
import pygments
from django.urls import reverse
from markdown.extensions import Extension
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension, slugify_unicode
from markdown.preprocessors import Preprocessor
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

# Pygments' short token class names ("k", "nf", "s2" …) plus the line highlight.
PYGMENTS_CLASSES = {name for name in STANDARD_TYPES.values() if name} | {"hll"}

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "s", "samp", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
    **{tag: {"id"} for tag in HEADINGS},
}
ALLOWED_CLASSES = {
    "div": {"highlight"},
    "span": PYGMENTS_CLASSES,
    "a": {"headerlink"},
}
# Everything else (javascript:, vbscript:, data:, file: …) is dropped.
URL_SCHEMES = {"http", "https", "mailto"}
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# Hugo cross-references, as in the kube-prometheus runbooks: {{< ref "./Foo.md" >}}.
HUGO_REF = re.compile(r"\{\{[<%]\s*(?:rel)?ref\s+\"([^\"]+)\"\s*[>%]\}\}")
HEADERLINK = re.compile(r'<a class="headerlink"[^>]*>.*?</a>')
SPACES = re.compile(r"\s+")


# A fenced code block, at the top level or indented under a list item
# ("1. Step" then "   ```bash"), which python-markdown's fenced_code misses.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*\{?\.?(?P<lang>[\w#.+-]*)[^\n`]*\n"
    r"(?P<code>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
# One formatter for every block: building one compiles a stylesheet each time.
FORMATTER = HtmlFormatter(cssclass="highlight", wrapcode=True)


@functools.lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer:
    try:
        return get_lexer_by_name(language) if language else TextLexer()
    except ClassNotFound:
        return TextLexer()


class FencePreprocessor(Preprocessor):
    """Highlight fenced code with Pygments and stash it as HTML, so lists keep
    their numbering and the code stays one block."""

    def run(self, lines: list[str]) -> list[str]:
        text = "\n".join(lines)

        def replace(match: re.Match) -> str:
            indent = match.group("indent")
            code = "".join(
                line.removeprefix(indent) for line in match.group("code").splitlines(keepends=True)
            )
            html = pygments.highlight(code, _lexer(match.group("lang").lower()), FORMATTER)
            placeholder = self.md.htmlStash.store(html)
            return f"\n{indent}{placeholder}\n"

        return FENCE.sub(replace, text).split("\n")


class FenceExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - markdown's API
        # Where fenced_code would run: before raw HTML is stashed (priority 20).
        md.preprocessors.register(FencePreprocessor(md), "runbook_fences", 25)


@dataclass(frozen=True)
class Rendered:
    html: str
    toc: list[dict]  # [{"level": 2, "id": "mitigation", "name": "Mitigation"}, …]
    text: str  # plain text of the body, for search
    first_heading: str
    outside_links: list[str] = field(default_factory=list)


def _flatten(tokens: list[dict]) -> list[dict]:
    flat = []
    for token in tokens:
        flat.append(
            {"level": token["level"], "id": token["id"], "name": html.unescape(token["name"])}
        )
        flat.extend(_flatten(token.get("children", [])))
    return flat


def _link_rewriter(page_dir: str, outside: list[str]):
    """An nh3 attribute filter that points relative links at runbook pages.

    1. Fragments, absolute paths and URLs with a scheme pass through (nh3
       itself drops schemes outside URL_SCHEMES).
    2. A relative link is resolved against the file's folder; one that climbs
       out of the runbook folder is recorded in ``outside`` and dropped.
    3. Inside the folder, ``foo/Bar.md#x`` becomes ``/runbooks/foo/bar/#x`` (the
       slug rule), so links between runbooks work on the site as in git.
    """

    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        if not (tag == "a" and attribute == "href") and not (tag == "img" and attribute == "src"):
            return value
        value = value.strip()
        if not value or value.startswith(("#", "/", "?")) or SCHEME.match(value):
            return value
        target, hash_mark, fragment = value.partition("#")
        target = target.partition("?")[0]
        resolved = posixpath.normpath(posixpath.join(page_dir, target))
        if resolved == ".." or resolved.startswith("../"):
            outside.append(value)
            return None
        if resolved.endswith(".md"):
            resolved = resolved[:-3]
        if resolved == "_index" or resolved.endswith("/_index"):
            resolved = resolved[: -len("_index")].rstrip("/")
        if resolved in ("", "."):
            url = reverse("runbooks:index")
        else:
            url = reverse("runbooks:detail", args=[resolved.lower()])
        return url + (f"#{fragment}" if hash_mark else "")

    return rewrite


def render_markdown(text: str, *, page_dir: str = "") -> Rendered:
    """Render a runbook body (front matter already removed) to sanitised HTML.

    1. Hugo ``ref`` shortcodes become plain relative links.
    2. Fenced code is highlighted by Pygments (also inside list items);
       python-markdown renders the rest: tables,
       and headings with ids and a permalink anchor; the table of contents
       comes from the same pass.
    3. nh3 keeps only the allow-listed tags, attributes, classes and URL
       schemes, removes script/style content and comments, and adds
       rel="noopener noreferrer" to links; relative links are rewritten (see
       ``_link_rewriter``).
    4. The plain text (for search) is the sanitised HTML without tags.
    """
    text = HUGO_REF.sub(lambda m: m.group(1), text)
    md = markdown.Markdown(
        extensions=[
            FenceExtension(),
            TableExtension(use_align_attribute=True),
            TocExtension(
                slugify=slugify_unicode,
                permalink="#",
                permalink_class="headerlink",
                permalink_title="Link to this section",
            ),
            "sane_lists",
        ],
        output_format="html",
    )
    raw = md.convert(text)
    outside: list[str] = []
    safe = nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_link_rewriter(page_dir, outside),
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    toc = _flatten(md.toc_tokens)
    plain = nh3.clean(HEADERLINK.sub("", safe), tags=set())
    plain = SPACES.sub(" ", html.unescape(plain)).strip()
    return Rendered(
        html=safe,
        toc=toc,
        text=plain,
        first_heading=toc[0]["name"] if toc else "",
        outside_links=outside,
    )
