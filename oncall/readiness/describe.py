"""Checklist descriptions: a little markdown, rendered once when saved.

Descriptions are bounded in length where they enter (``DESCRIPTION_MAX``) and
rendered here, at save time, so showing a checklist never renders markdown.
"""

import markdown as md
import nh3

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render_description(text: str) -> str:
    """Sanitised HTML for a checklist description ("" for none)."""
    if not text.strip():
        return ""
    html = md.markdown(text, extensions=["sane_lists"])
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
