"""Render runbook Markdown to HTML that is safe to show: nh3 removes scripts, event handlers and
links whose scheme is not http, https or mailto, after Markdown has produced the HTML."""

import markdown
import nh3

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "input", "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "h2": {"id"},
    "h3": {"id"},
    "input": {"type", "disabled", "checked"},
    "th": {"align"},
    "td": {"align"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def markdown_render(text: str) -> str:
    """Return sanitised HTML for Markdown text, with fenced code blocks and tables."""
    html = markdown.markdown(text, extensions=["fenced_code", "tables", "sane_lists", "toc"])
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
