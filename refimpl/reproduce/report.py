"""Our table beside the paper's: text for the terminal, JSON and CSV for the record, a PNG."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from .paper import PAPER_TABLES

__all__ = ["compare", "format_table", "write_outputs"]


def compare(name: str, rows: list[dict], columns: list[str]) -> list[dict]:
    """One record per (model, column): ours, the paper's (None where it has no value), and
    ours minus the paper's."""
    paper = PAPER_TABLES.get(name, {}).get("rows", {})
    records = []
    for row in rows:
        for column in columns:
            ref = paper.get(row["model"], {}).get(column)
            ours = row[column]
            records.append({"model": row["model"], "column": column, "ours": ours,
                            "paper": ref, "difference": None if ref is None or ours is None else ours - ref,
                            "std": row.get(f"{column}_std")})
    return records


def _cell(value, percent: bool) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}" if percent else f"{value:.3f}"


def format_table(name: str, rows: list[dict], columns: list[str], *, percent: bool = True) -> str:
    """A plain-text table: each cell "ours (paper's, difference)" in percent (points), the
    paper's values where published."""
    paper = PAPER_TABLES.get(name)
    headings = paper["columns"] if paper else {}
    refs = paper["rows"] if paper else {}
    header = ["model"] + [headings.get(c, c) for c in columns]
    lines = []
    for row in rows:
        cells = [row["model"]]
        for column in columns:
            ref = refs.get(row["model"], {}).get(column)
            cell = _cell(row[column], percent)
            if ref is not None and row[column] is not None:  # ours (paper's, ours - paper's)
                difference = (100 if percent else 1) * (row[column] - ref)
                cell = f"{cell} ({_cell(ref, percent)}, {difference:+.1f})"
            cells.append(cell)
        lines.append(cells)
    widths = [max(len(str(r[i])) for r in [header] + lines) for i in range(len(header))]
    text = [" | ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header] + lines]
    text.insert(1, "-+-".join("-" * w for w in widths))
    if paper:
        text.append(f"(in brackets: {paper['table']} of paper {paper['paper']}, "
                    f"shared/papers/{paper['file']}, and ours minus the paper's)")
    return "\n".join(text)


def write_outputs(folder: Path, name: str, result: dict) -> list[Path]:
    """result.json (everything), table.csv (ours vs paper per cell) and, for tables, table.png."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, columns = result["rows"], result["columns"]
    records = compare(name, rows, columns)
    (folder / "result.json").write_text(json.dumps(
        {**result, "comparison": records, "paper": PAPER_TABLES.get(name)}, indent=2,
        default=_json_default))
    with open(folder / "table.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["model", "column", "ours", "paper", "difference", "std"])
        writer.writeheader()
        writer.writerows(records)
    written = [folder / "result.json", folder / "table.csv"]
    if result.get("kind") == "table":
        from refimpl.plotting import bar_table  # noqa: PLC0415
        paper = PAPER_TABLES.get(name)
        reference = ([{"model": r["model"], **{c: paper["rows"].get(r["model"], {}).get(c)
                                               for c in columns}} for r in rows]
                     if paper else None)
        written.append(bar_table([{k: r[k] for k in ["model"] + columns} for r in rows],
                                 columns, folder / "table.png", title=result["title"],
                                 reference=reference))
    return written


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return str(value)
    return str(value)
