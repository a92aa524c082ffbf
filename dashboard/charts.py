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


def norm_band(rows: Sequence[dict[str, Any]], clipping: Sequence[dict[str, Any]]) -> Figure:
    """Update norms before clipping: the 10-90% band, the median, and the clipping norm."""
    shown = [r for r in rows if r.get("update_norm_p50") is not None]
    base = alt.Chart(_data(shown)).encode(
        x=alt.X("round:Q", title="round", axis=alt.Axis(tickMinStep=1))
    )
    band = base.mark_area(opacity=0.25, color="#1f77b4").encode(
        y=alt.Y("update_norm_p10:Q", title="L2 norm of updates"), y2="update_norm_p90:Q"
    )
    median = base.mark_line(point=True, color="#1f77b4").encode(
        y="update_norm_p50:Q",
        tooltip=[
            "round:Q",
            alt.Tooltip("update_norm_p10:Q", format=".3f", title="10%"),
            alt.Tooltip("update_norm_p50:Q", format=".3f", title="median"),
            alt.Tooltip("update_norm_p90:Q", format=".3f", title="90%"),
        ],
    )
    clip = (
        alt.Chart(_data(list(clipping)))
        .mark_line(color="#d62728", strokeDash=[6, 4])
        .encode(x="round:Q", y="clipping_norm:Q", tooltip=["round:Q", "clipping_norm:Q"])
    )
    return cast(Figure, alt.layer(band, median, clip).properties(height=HEIGHT))
