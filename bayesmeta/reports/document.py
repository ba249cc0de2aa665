"""A report as data: a title and `Section`s of paragraphs, tables and figures; `Report.render` draws it as text, markdown or HTML."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .html import _html
from .markdown import _markdown
from .text import _text


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, object]] = field(default_factory=list)  # (caption, Figure or PNG/SVG path)
    items: list[str] = field(default_factory=list)  # a list of points, after the paragraphs
    key_tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # before the points (the answer)

    def all_tables(self):
        """The tables in the order they are shown: key tables (before the points), then the others."""
        return [*self.key_tables, *self.tables]


@dataclass
class Report:
    title: str
    sections: list[Section]

    def render(self, format: str = "text") -> str:  # noqa: A002
        if format == "text":
            return _text(self)
        if format == "markdown":
            return self.to_markdown()
        if format == "html":
            return _html(self)
        raise ValueError("format must be 'text', 'markdown' or 'html'")

    def to_markdown(self, figure_paths: dict | None = None) -> str:
        """Markdown; figures link to `figure_paths[caption]` (or to the path they were given as)."""
        return _markdown(self, figure_paths or {})
