"""HTML in and out of email: sanitise what customers send, derive text, render agent text.

The sanitiser is an allow-list (nh3 / ammonia): anything not named here is
dropped, so a new browser feature cannot open a hole. Remote images are kept
but disarmed (``src`` becomes ``data-src``) so merely viewing a message does
not fire a tracking pixel; the UI may offer "load images" by copying it back.
``cid:`` images stay, pointing at the message's inline attachments.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

# fmt: off
_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup", "dd",
        "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
        "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub",
        "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
    }
)
# fmt: on
_CELL = {"align", "valign", "width", "height", "colspan", "rowspan", "bgcolor"}
_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"dir", "lang", "title", "style", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor"},
    "td": _CELL,
    "th": _CELL,
    "tr": {"valign", "bgcolor"},
    "ol": {"start", "type"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
}
# Properties that cannot fetch anything (no url(), no background shorthand) but keep
# most newsletters and signatures readable.
# fmt: off
_STYLE_PROPERTIES = frozenset(
    {
        "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
        "text-align", "text-decoration", "text-indent", "text-transform", "line-height", "letter-spacing",
        "vertical-align", "white-space", "direction", "width", "height", "max-width", "min-width",
        "margin", "margin-top", "margin-right", "margin-bottom", "margin-left", "padding", "padding-top",
        "padding-right", "padding-bottom", "padding-left", "border", "border-top", "border-right",
        "border-bottom", "border-left", "border-color", "border-style", "border-width", "border-collapse",
        "border-spacing", "border-radius",
    }
)
# fmt: on
_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})
_DROP_WITH_CONTENT = frozenset({"script", "style", "title", "template", "iframe", "object", "embed", "textarea"})

# nh3 output is canonical: attribute values are double-quoted with '"' and '>' escaped,
# so these patterns only ever see real <img> tags and whole attribute values.
_IMG_TAG = re.compile(r"<img\b[^>]*>")
_REMOTE_SRC = re.compile(r'\ssrc="((?:https?:)?//[^"]*)"', re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


# html5ever's tree builder is quadratic in nesting depth (each <div> scans the open-element
# stack): 100k nested divs take ~35 s, 20k about 0.7 s. Real newsletters stay far below this.
MAX_HTML_TAGS = 20_000


def too_complex(markup: str) -> bool:
    """True when sanitising ``markup`` could take seconds; the caller should show text only."""
    return markup.count("<") > MAX_HTML_TAGS


def _disarm_remote_images(cleaned: str) -> str:
    return _IMG_TAG.sub(lambda tag: _REMOTE_SRC.sub(r' data-src="\1"', tag.group(0)), cleaned)


def sanitise_html(markup: str) -> str:
    """Return HTML safe to render in the agent UI (see the module docstring for the policy)."""
    cleaned = nh3.clean(
        markup,
        tags=set(_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        url_schemes=set(_URL_SCHEMES),
        url_relative="deny",
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        filter_style_properties=set(_STYLE_PROPERTIES),
    )
    return _disarm_remote_images(cleaned).strip()


# fmt: off
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figure",
        "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol",
        "p", "pre", "section", "table", "tr", "ul",
    }
)
# fmt: on
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})


class _TextExtractor(HTMLParser):
    """Collects visible text, turning block boundaries into newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "br":
            self.chunks.append("\n")
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")
            self._pre += tag == "pre"
        elif tag in ("td", "th"):
            self.chunks.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.chunks.append(data if self._pre else _SPACES.sub(" ", data.replace("\n", " ")))


def html_to_text(markup: str) -> str:
    """Plain text for display and search when a sender sent only HTML."""
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(extractor.chunks).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    """Render agent-typed text as HTML. Agent text is never trusted markup: it is escaped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body = "<br>\n".join(html.escape(line, quote=True) for line in lines)
    head = '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
    return f'{head}<body><div dir="auto">{body}</div></body></html>\n'
