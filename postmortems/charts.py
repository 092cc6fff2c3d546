"""Server-rendered SVG charts of the report tables, drawn with pygal.

Each chart is returned as a data URI for an <img>, so the SVG's own inline script never runs in
the page and the page stays readable without JavaScript; the table beside it holds the numbers.
"""

import base64

import pygal
from pygal.style import Style

from .reports import ReportTable

# Dark series colours that keep at least 3:1 contrast against the white chart background.
CHART_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    foreground_subtle="#4d5761",
    colors=("#8f1616", "#b3470a", "#7a5c00", "#334e68", "#1e5e2c"),
    font_family="system-ui, sans-serif",
)


def _data_uri(chart) -> str:
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def bar_chart(table: ReportTable, *, columns: list[int], stacked: bool = False) -> str:
    """Draw the given columns of a month-per-row table as bars per month; returns a data URI."""
    chart_class = pygal.StackedBar if stacked else pygal.Bar
    chart = chart_class(
        style=CHART_STYLE,
        js=[],
        height=320,
        width=720,
        legend_at_bottom=True,
        print_values=True,
        disable_xml_declaration=True,
    )
    chart.title = table.title
    chart.x_labels = [row[0] for row in table.rows]
    for column in columns:
        chart.add(table.columns[column], [row[column] for row in table.rows])
    return _data_uri(chart)
