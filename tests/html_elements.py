"""Read rendered HTML as elements, so a test states the property it means.

``'<h2 id="mitigation">' in html`` holds only while the markdown library and
the sanitiser write attributes in that order and with those quotes; "there is
an h2 whose id is mitigation" holds for any correct serialisation.
"""

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    classes: set[str] = field(default_factory=set)
    text: str = ""


class _Collector(HTMLParser):
    VOID = {"br", "hr", "img", "input", "meta", "link", "wbr", "source", "col", "area", "base"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        element = Element(tag, values, set(values.get("class", "").split()))
        self.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_endtag(self, tag):
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index].tag == tag:
                del self.open[index:]
                break

    def handle_data(self, data):
        for element in self.open:
            element.text += data


def elements(html: str, tag: str | None = None, **attrs: str) -> list[Element]:
    """Elements of ``html`` with that tag (any, when None) and those attribute values.

    ``class_`` matches one class among the element's classes.
    """
    collector = _Collector()
    collector.feed(html)
    collector.close()
    wanted_class = attrs.pop("class_", None)
    return [
        element
        for element in collector.elements
        if (tag is None or element.tag == tag)
        and all(element.attrs.get(name) == value for name, value in attrs.items())
        and (wanted_class is None or wanted_class in element.classes)
    ]
