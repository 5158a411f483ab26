"""Markdown to safe HTML: the one place markdown is rendered.

A runbook revision is rendered once, when the sync reads its file; page views
read the stored HTML and never run this code. Other apps render short
markdown (checklist descriptions) through the same ``render_markdown``, with
the same bounds.

Rendering is work on untrusted input, so it is bounded before and while it
runs (see ``render_markdown``): python-markdown is quadratic on some inputs
(thousands of ``[``) and recursive on nesting, and both would otherwise hold
up a sync, a worker or a web request for as long as the author likes.
"""

import functools
import html
import importlib
import json
import os
import posixpath
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from urllib.parse import quote

import markdown
import nh3
import pygments
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
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
# The heading anchors' tooltip, stored in English with each revision; the page
# puts it in the reader's language (runbooks.views.localised_html).
PERMALINK_TITLE = "Link to this section"
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


def _link_rewriter(page_dir: str, outside: list[str], url_prefix: str):
    """An nh3 attribute filter that points relative links at runbook pages.

    1. Fragments, absolute paths and URLs with a scheme pass through (nh3
       itself drops schemes outside URL_SCHEMES).
    2. A relative link is resolved against the file's folder; one that climbs
       out of the runbook folder is recorded in ``outside`` and dropped.
    3. Inside the folder, ``foo/Bar.md#x`` becomes ``/runbooks/foo/bar/#x`` (the
       slug rule), so links between runbooks work on the site as in git.
       ``url_prefix`` is the runbook index's path; the renderer process has no
       URLconf, so the rest is quoted the way ``reverse`` quotes a path.
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
            url = url_prefix
        else:
            url = url_prefix + quote(resolved.lower(), safe="!$&'()*+,;=/~:@") + "/"
        return url + (f"#{fragment}" if hash_mark else "")

    return rewrite


# -- bounds ----------------------------------------------------------------------------------

# A runbook file is at most 1 MiB; the same cap in characters for any caller.
MAX_CHARS = 1024 * 1024
# Lists and block quotes nested deeper than this are refused before python-markdown
# sees them (it recurses per level and raises RecursionError near 600). Real
# runbooks stay under 6; 50 leaves room for generated documents.
MAX_NESTING = 50
# Wall-clock seconds one render may take. The largest real runbooks render in
# ~10 ms and a 1 MB one in ~1 s; 9,000 "[" took 32 s on python-markdown 3.10
# (fixed upstream since), and other inputs may be slow on other versions.
RENDER_SECONDS = 2.0
# Seconds the renderer process may take to start (imports, on a busy machine).
STARTUP_SECONDS = 30.0
# Address space of the renderer process: a render that wants more fails alone.
RENDERER_MEMORY_BYTES = 1024 * 1024 * 1024
TAB = 4
FENCE_LINE = re.compile(r"^[ \t>]*(`{3,}|~{3,})")


class RenderRefused(ValueError):
    """Markdown over the limits; the message is the reason, for a person to read."""


def nesting_depth(text: str) -> int:
    """How deeply lists and block quotes nest, as python-markdown will see them.

    Each ``>`` at the start of a line is one level, and so is each 4 columns
    of indentation (a tab counts 4) before the text. Lines inside fenced
    code are skipped: indented code is not nesting. The count runs in one
    pass over the text and never recurses.
    """
    deepest = 0
    fence = ""
    for line in text.split("\n"):
        opening = FENCE_LINE.match(line)
        if fence:
            if opening and opening.group(1).startswith(fence):
                fence = ""
            continue
        if opening:
            fence = opening.group(1)[0] * 3
        quotes = columns = 0
        for char in line:
            if char == ">":
                quotes += 1
                columns = 0  # indentation counts again after a quote marker
            elif char == " ":
                columns += 1
            elif char == "\t":
                columns += TAB - columns % TAB
            else:
                break
        deepest = max(deepest, quotes + columns // TAB)
    return deepest


def check_limits(text: str, *, max_chars: int = MAX_CHARS) -> None:
    """Raise RenderRefused when text is too long or nests too deeply to render."""
    if len(text) > max_chars:
        raise RenderRefused(
            _("longer than %(limit)d characters (%(size)d)")
            % {"limit": max_chars, "size": len(text)}
        )
    depth = nesting_depth(text)
    if depth > MAX_NESTING:
        raise RenderRefused(
            _("nesting deeper than %(limit)d levels (%(depth)d)")
            % {"limit": MAX_NESTING, "depth": depth}
        )


# -- rendering -------------------------------------------------------------------------------


def render_markdown(
    text: str,
    *,
    page_dir: str = "",
    max_chars: int = MAX_CHARS,
    timeout: float = RENDER_SECONDS,
) -> Rendered:
    """Render markdown (front matter already removed) to sanitised HTML, within bounds.

    1. Text longer than ``max_chars`` or nested deeper than MAX_NESTING levels
       is refused before any rendering starts.
    2. The rendering itself (``render_unbounded``) runs in a long-lived
       renderer process of this process, which is killed and replaced when one
       render takes longer than ``timeout`` seconds. So a hostile input costs
       at most that long, anywhere: a sync, a worker, a web request.
    3. Over a limit, or when the renderer fails, RenderRefused says why:
       "nesting deeper than 50 levels (600)", "took longer than 2 s to render".

    ``page_dir`` is the file's folder below the runbook folder, for relative
    links; leave it empty for markdown that is not a file.
    """
    check_limits(text, max_chars=max_chars)
    return RENDERER.render(
        text,
        page_dir=page_dir,
        url_prefix=reverse("runbooks:index"),
        timeout=timeout,
        extensions=list(settings.RUNBOOK_MARKDOWN_EXTENSIONS),
    )


@functools.lru_cache(maxsize=8)
def _extension_class(path: str) -> type[Extension]:
    """The python-markdown extension class named ``module:Class``."""
    module, _colon, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def render_unbounded(
    text: str, *, page_dir: str = "", url_prefix: str = "/runbooks/", extensions: Sequence[str] = ()
) -> Rendered:
    """Render markdown to sanitised HTML in this process, with no bounds.

    Only the renderer process calls this; everything else calls
    ``render_markdown``. ``extensions`` are extra python-markdown extensions
    by ``module:Class`` (the setting RUNBOOK_MARKDOWN_EXTENSIONS), loaded after
    the built-in ones; the tests use one to make a render as slow as they say.

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
                permalink_title=PERMALINK_TITLE,
            ),
            "sane_lists",
            *(_extension_class(path)() for path in extensions),
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
        attribute_filter=_link_rewriter(page_dir, outside, url_prefix),
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


# -- the renderer process --------------------------------------------------------------------
# Messages both ways are one JSON document after its length (8 bytes, big-endian).

HEADER = struct.Struct(">Q")


def write_message(stream, message: dict) -> None:
    data = json.dumps(message).encode()
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def read_message(stream) -> dict | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    return json.loads(stream.read(HEADER.unpack(header)[0]))


class _OutOfTime(Exception):
    pass


def _out_of_time(signum, frame) -> None:
    raise _OutOfTime


def serve(stdin, stdout) -> None:
    """The renderer process's loop: one request in, one answer out, until stdin closes.

    The owner kills this process when an answer is late. A timer of its own,
    a second later, ends a render that nobody waits for any more (the owner
    itself was killed), so no render outlives its deadline by much.
    """
    signal.signal(signal.SIGALRM, _out_of_time)
    while (request := read_message(stdin)) is not None:
        try:
            signal.setitimer(signal.ITIMER_REAL, request["timeout"] + 1)
            rendered = render_unbounded(
                request["text"],
                page_dir=request["page_dir"],
                url_prefix=request["url_prefix"],
                extensions=request.get("extensions", ()),
            )
            answer = {"rendered": asdict(rendered)}
        # No settings here, so no translations: the owner words the reason.
        except _OutOfTime:
            answer = {"refused": "time", "seconds": request["timeout"]}
        except RecursionError:
            answer = {"refused": "nesting"}
        except MemoryError:
            answer = {"refused": "memory"}
        except Exception as e:  # noqa: BLE001 - any failure is this input's alone
            answer = {"refused": "error", "error": type(e).__name__}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        write_message(stdout, answer)


def _took_too_long(seconds: float) -> str:
    return _("took longer than %(seconds)s s to render") % {"seconds": f"{seconds:g}"}


def _refusal(answer: dict) -> str:
    if answer["refused"] == "time":
        return _took_too_long(answer["seconds"])
    if answer["refused"] == "nesting":
        return _("nested too deeply to render")
    if answer["refused"] == "memory":
        return _("needs more than %(mib)d MiB of memory to render") % {
            "mib": RENDERER_MEMORY_BYTES // (1024 * 1024)
        }
    return _("could not be rendered (%(error)s)") % {"error": answer.get("error", "")}


class Renderer:
    """A renderer process owned by this process, started on first use.

    Requests are serialised by a lock (threads of one web worker share it). A
    render past its deadline kills the process; the next request starts a
    new one. A child forked from the owner (a prefork pool) starts its own
    rather than share the owner's pipes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._owner = 0

    def _start(self) -> subprocess.Popen:
        """The running renderer process, started when there is none (or it died).

        A new one says it is ready once it has imported what it renders with,
        so its start-up (slow on a busy machine) never counts against the
        first render's deadline.
        """
        if self._process is None or self._owner != os.getpid() or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "oncall.runbooks.renderer"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                # The renderer is part of its owner: Ctrl-C goes to the owner, and
                # the renderer ends when the owner closes its end of the pipe.
                start_new_session=True,
            )
            self._owner = os.getpid()
            if self._answer(self._process, time.monotonic() + STARTUP_SECONDS) != {"ready": True}:
                self._stop()
                raise RenderRefused(_("could not be rendered (the renderer did not start)"))
        return self._process

    def _stop(self) -> None:
        if self._process is not None and self._owner == os.getpid():
            self._process.kill()
            self._process.wait()
        self._process = None

    def render(
        self,
        text: str,
        *,
        page_dir: str,
        url_prefix: str,
        timeout: float,
        extensions: Sequence[str] = (),
    ) -> Rendered:
        with self._lock:
            process = self._start()
            deadline = time.monotonic() + timeout
            try:
                write_message(
                    process.stdin,
                    {
                        "text": text,
                        "page_dir": page_dir,
                        "url_prefix": url_prefix,
                        "timeout": timeout,
                        "extensions": list(extensions),
                    },
                )
                answer = self._answer(process, deadline)
            except BrokenPipeError:
                answer = None
            if answer is None:
                timed_out = time.monotonic() >= deadline
                self._stop()
                if timed_out:
                    raise RenderRefused(_took_too_long(timeout))
                raise RenderRefused(_("could not be rendered (the renderer stopped)"))
        if "refused" in answer:
            raise RenderRefused(_refusal(answer))
        return Rendered(**answer["rendered"])

    @staticmethod
    def _answer(process: subprocess.Popen, deadline: float) -> dict | None:
        """The answer, or None when the deadline passed or the process ended."""
        stream = process.stdout
        fd = stream.fileno()
        chunks = bytearray()
        wanted = HEADER.size
        have_header = False
        while len(chunks) < wanted:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, max(wanted - len(chunks), 65536))
            if not chunk:
                return None
            chunks += chunk
            if not have_header and len(chunks) >= HEADER.size:
                wanted = HEADER.size + HEADER.unpack(chunks[: HEADER.size])[0]
                have_header = True
        return json.loads(chunks[HEADER.size : wanted])

    def close(self) -> None:
        with self._lock:
            self._stop()


# One per process (see Renderer): the sync, a Celery worker, a gunicorn worker.
RENDERER = Renderer()
