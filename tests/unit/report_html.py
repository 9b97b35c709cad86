"""Shared by the report tests: hostile strings, a tokenizer view of a page, its plotly figures."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from typing import Any

import numpy as np

HOSTILE = "<script>alert(1)</script>"
HOSTILE_ATTR = '"><img src=x onerror=alert(2)>'


class Doc(HTMLParser):
    """Tags, attributes, and text of a page as a browser's tokenizer sees them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def joined(self) -> str:
        return " ".join(" ".join(self.text).split())


FIGURE_RE = re.compile(r'<script type="application/json" id="([^"]+)-figure">(.*?)</script>', re.S)


def figures(html: str) -> dict[str, dict[str, Any]]:
    """The plotly figures of a page by chart id (the JSON the boot script hands to plotly.js)."""
    return {chart_id: json.loads(text) for chart_id, text in FIGURE_RE.findall(html)}


def values(data: Any) -> np.ndarray:
    """A figure array as numpy: plain JSON lists, or plotly's base64 typed arrays (`bdata`)."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).astype(np.float64)
    return np.asarray(data, dtype=np.float64)


def traces(figure: dict[str, Any], yaxis: str | None = None) -> list[dict[str, Any]]:
    """The figure's traces, optionally only those on one y axis ("y", "y2", ...)."""
    return [t for t in figure["data"] if yaxis is None or t.get("yaxis", "y") == yaxis]
