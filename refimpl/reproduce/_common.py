"""Helpers shared by the measurements: averaging over seeds, attack specs and the papers'
evaluation settings."""

from __future__ import annotations

import statistics

__all__ = ["aggregate", "attack_spec", "papers_settings"]


def aggregate(per_seed: list[list[dict]], columns: list[str]) -> list[dict]:
    """Rows per seed -> one row per model: mean of each column, with the per-seed values."""
    rows = []
    for i, first in enumerate(per_seed[0]):
        row = {"model": first["model"]}
        for column in columns:
            values = [_number(seed_rows[i][column]) for seed_rows in per_seed]
            known = [v for v in values if v is not None]
            row[column] = statistics.fmean(known) if known else None
            row[f"{column}_per_seed"] = values
            if len(known) > 1:
                row[f"{column}_std"] = statistics.stdev(known)
        rows.append(row)
    return rows


def _number(value):
    """None for a missing or NaN score (an empty fixed set), else the value."""
    return None if value is None or value != value else value


def attack_spec(name: str) -> tuple[str, dict]:
    """"k_support@0.25" -> ("k_support", {"k": 0.25}); other names have no overrides."""
    if "@" in name:
        base, k = name.split("@")
        return base, {"k": float(k)}
    return name, {}


def papers_settings(experiment) -> dict:
    """The papers' evaluation settings, as keywords of the evaluation functions: no clipping,
    only correctly classified points attacked, and (Huang, K-support) each attack's gradient
    taken with the network in training mode (``attack_mode="train"``; predictions in eval
    mode)."""
    return {"clip": None, "only_correct": True,
            "attack_mode": experiment.settings.get("attack_mode", "eval")}