import markdown as md
import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "a", "ul", "ol", "li", "pre", "blockquote"}


@register.filter
def checklist_markdown(text: str) -> SafeString:
    """A checklist item's description: a little markdown, sanitised."""
    if not text:
        return mark_safe("")  # noqa: S308 - empty
    html = md.markdown(text, extensions=["sane_lists"])
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 above


@register.filter
def percent_of(value: int, total: int) -> int:
    return round(100 * value / total) if total else 0
