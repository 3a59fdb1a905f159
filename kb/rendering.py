"""Markdown to safe HTML: rendered with Python-Markdown, then sanitised with nh3 (no scripts, no event
handlers, no ``javascript:`` links), so a Markdown asset can be shown inline on our own origin."""

from __future__ import annotations

import markdown
import nh3
from markupsafe import Markup

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "td": {"align"}, "th": {"align"}}
_SCHEMES = {"http", "https", "mailto"}


#: Larger Markdown files are shown as their extracted text: rendering takes about 3 s per MB.
MAX_RENDERED_CHARS = 200_000


def markdown_to_html(text: str) -> Markup:
    """Safe HTML for ``text``; marked as such for templates, because nh3 has removed anything active."""
    html = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    return Markup(
        nh3.clean(
            html,
            tags=_TAGS,
            attributes=_ATTRIBUTES,
            url_schemes=_SCHEMES,
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    )
