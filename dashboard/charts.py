"""Altair charts over aggregate rows (plain dicts, one per round; ``None`` = withheld)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import altair as alt

HEIGHT = 260
Figure = alt.Chart | alt.LayerChart


def _data(values: list[dict[str, Any]]) -> alt.Data:
    return alt.Data(values=values)  # type: ignore[no-untyped-call]  # altair's own signature


def _long(rows: Sequence[dict[str, Any]], series: dict[str, str]) -> list[dict[str, Any]]:
    """Wide rows to long records ``{round, series, value}``, keeping only shown values."""
    return [
        {"round": row["round"], "series": label, "value": row[column]}
        for row in rows
        for column, label in series.items()
        if row.get(column) is not None
    ]


def lines(
    rows: Sequence[dict[str, Any]],
    series: dict[str, str],
    *,
    y_title: str,
    rule: float | None = None,
    rule_label: str = "",
) -> Figure:
    """One line per column in ``series`` (column -> legend label) over rounds."""
    data = _data(_long(rows, series))
    chart = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("round:Q", title="round", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("value:Q", title=y_title),
            color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=["round:Q", "series:N", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=HEIGHT)
    )
    if rule is None:
        return cast(Figure, chart)
    budget = alt.Chart(_data([{"value": rule, "label": rule_label}]))
    line = budget.mark_rule(color="#d62728", strokeDash=[6, 4]).encode(y="value:Q")
    text = budget.mark_text(align="left", dx=4, dy=-6, color="#d62728").encode(
        y="value:Q", text="label:N"
    )
    return cast(Figure, alt.layer(chart, line, text))


def participation(rows: Sequence[dict[str, Any]]) -> Figure:
    """Stacked bars per round: clients that completed, dropped out or were rejected."""
    series = {
        "clients_completed": "completed",
        "clients_dropped": "dropped",
        "clients_rejected": "rejected",
    }
    bars = (
        alt.Chart(_data(_long(rows, series)))
        .mark_bar()
        .encode(
            x=alt.X("round:O", title="round"),
            y=alt.Y("value:Q", title="clients", stack="zero"),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(
                    domain=["completed", "dropped", "rejected"],
                    range=["#2ca02c", "#ff7f0e", "#d62728"],
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=["round:O", "series:N", "value:Q"],
        )
        .properties(height=HEIGHT)
    )
    return cast(Figure, bars)
