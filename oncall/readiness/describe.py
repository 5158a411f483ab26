"""Checklist descriptions: a little markdown, rendered once when saved.

Descriptions are bounded where they enter (``DESCRIPTION_MAX`` characters, and
the runbook renderer's nesting and time limits) and rendered here, when saved,
so showing a checklist never renders markdown.
"""

import nh3
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from oncall.runbooks.render import RenderRefused, render_markdown

# A checklist description is a paragraph or two of guidance, not a runbook:
# longer text belongs in a runbook the item links to.
DESCRIPTION_MAX = 4000
ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render_description(text: str) -> str:
    """Sanitised HTML for a checklist description ("" for none).

    Raises ``RenderRefused`` (a ValueError naming the reason) for text over
    the limits: too long, nested too deep, or too slow to render.
    """
    if not text.strip():
        return ""
    rendered = render_markdown(text, max_chars=DESCRIPTION_MAX)
    # The runbook renderer allows more (headings, tables, images): a checklist
    # item keeps to a few paragraphs, lists and links.
    return nh3.clean(
        rendered.html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def cleaned_description(text: str) -> str:
    """The HTML for a description typed into a form, or a ValidationError naming the problem."""
    if len(text) > DESCRIPTION_MAX:
        raise ValidationError(
            _("Keep it to at most %(max)d characters (this has %(n)d); link a runbook for more.")
            % {"max": DESCRIPTION_MAX, "n": len(text)}
        )
    try:
        return render_description(text)
    except RenderRefused as e:
        raise ValidationError(
            _("This description cannot be shown: %(reason)s.") % {"reason": e}
        ) from e
