"""The measurements behind the papers' tables and figures, on trained runs.

Each function takes the experiment, the trained networks (``label -> [Trained per seed]``),
the data and a context (output folder, a function that trains an extra run, options), and
returns a dict with ``rows`` (one per model: mean over seeds, and the per-seed values),
``columns``, ``figures`` (PNG paths) and ``claims`` (the paper's qualitative findings, each
checked on our numbers). Plots are drawn by :mod:`refimpl.plotting`, imported here lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from refimpl import evaluation
from refimpl.backend import to_numpy

from ._common import aggregate, papers_settings
from .curves import attack_curves, precision_recall
from .extra import clean_error, gaussian_error, single_pixel_examples

__all__ = ["MEASUREMENTS"]


def attack_mode_used(experiment) -> str:
    """The attack mode of the evaluation (for the result's notes)."""
    return experiment.settings.get("attack_mode", "eval")


def _table(models, data, experiment, seed, attacks, radius, ctx, **kwargs) -> list[dict]:
    """robustness_table with the papers' settings, plus the PGD column when the experiment
    asks for it."""
    rows = evaluation.robustness_table(
        models, data.x_test, data.y_test, attacks=list(attacks), radius=radius, seed=seed,
        progress=not ctx.quiet, **kwargs, **papers_settings(experiment))
    for row in rows:
        if experiment.settings.get("pgd"):
            model, params = models[row["model"]]
            row[PGD_COLUMN] = pgd_accuracy(model, params, data.x_test, data.y_test,
                                           radius=radius, seed=seed)
    return rows


PGD_COLUMN = "pgd40_l2"
PGD_STEPS, PGD_RESTARTS = 40, 1


def pgd_accuracy(model, params: dict, x, y, *, radius: float, seed: int,
                 batch_size: int = 500) -> float:
    """Accuracy under the registry's "pgd_l2": 40 steps of 2.5 radius / 40 in the l2 ball of
    ``radius`` from a uniform random start in the ball (one restart, drawn from ``seed``), only
    correctly classified points attacked, no clipping; gradients and predictions in
    evaluation mode. Beyond the papers (2015-16 defences against a multi-step attack)."""
    return evaluation.accuracy_under_attack(model, params, x, y, "pgd_l2", radius=radius,
                                            seed=seed, batch_size=batch_size, clip=None,
                                            only_correct=True, steps=PGD_STEPS,
                                            restarts=PGD_RESTARTS)


def _pgd_columns(experiment) -> list[str]:
    return [PGD_COLUMN] if experiment.settings.get("pgd") else []


def pgd_settings(experiment, radius: float) -> dict | None:
    """How the PGD column was made (stored in result.json), None without one."""
    if not experiment.settings.get("pgd"):
        return None
    return {"column": PGD_COLUMN, "norm": "l2", "radius": radius, "steps": PGD_STEPS,
            "restarts": PGD_RESTARTS, "step_size": 2.5 * radius / PGD_STEPS,
            "start": "uniform in the l2 ball", "attack": "pgd_l2", "clip": None,
            "only_correct": True, "mode": "eval"}


def robustness(experiment, trained: dict, data, ctx) -> dict:
    """Accuracy of every model on the clean test set and on each white-box attack's set."""
    attacks = list(experiment.settings["attacks"])
    columns = ["clean"] + attacks + _pgd_columns(experiment)
    per_seed = []
    for s in range(len(ctx.seeds)):
        models = {label: (runs[s].model, runs[s].params) for label, runs in trained.items()}
        per_seed.append(_table(models, data, experiment, ctx.seeds[s], attacks,
                               experiment.settings["radius"], ctx,
                               radii=experiment.settings.get("radii")))
    rows = aggregate(per_seed, columns)
    return {"rows": rows, "columns": columns, "claims": _robustness_claims(rows, attacks),
            "attack_mode": attack_mode_used(experiment),
            "pgd": pgd_settings(experiment, experiment.settings["radius"]),
            "figures": _examples(trained, data, ctx, attacks, experiment.settings["radius"])}


def huang_table(experiment, trained: dict, data, ctx) -> dict:
    """Paper 004's tables: clean, the stored Fixed set, Adv_Loss_Sign, Adv_Loss, Adv_Alpha."""
    attacks = ["adv_loss_sign", "adv_loss", "adv_alpha"]
    radius = experiment.settings["radius"]
    columns = ["clean", "fixed"] + attacks + _pgd_columns(experiment)
    per_seed = []
    for s, seed in enumerate(ctx.seeds):
        fixed = _huang_fixed(experiment, seed, data, ctx, radius)
        models = {label: (runs[s].model, runs[s].params) for label, runs in trained.items()}
        per_seed.append(_table(models, data, experiment, seed, attacks, radius, ctx,
                               fixed={"fixed": fixed}))
    rows = aggregate(per_seed, columns)
    return {"rows": rows, "columns": columns,
            "claims": _robustness_claims(rows, attacks) + _alpha_claim(rows),
            "attack_mode": attack_mode_used(experiment), "pgd": pgd_settings(experiment, radius),
            "figures": _examples(trained, data, ctx, attacks, radius)}


def _examples(trained: dict, data, ctx, attacks, radius, count: int = 8) -> list[Path]:
    """Perturbed-example grid (paper 000 Figs. 2-3) and the magnified Adv_Alpha / l2
    perturbation (paper 003 Figs. 3-4), made against the first model of the table."""
    from refimpl.plotting import example_grid, perturbation_grid  # noqa: PLC0415
    label, runs = next(iter(trained.items()))
    run, x, y = runs[0], data.x_test[:count], data.y_test[:count]
    rows = {"clean": to_numpy(x)}
    for attack in attacks:
        x_adv = evaluation.perturb(run.model, run.params, x, y, attack,
                                   radius=radius, only_correct=False, seed=ctx.seeds[0],
                                   clip=None)
        rows[evaluation.TITLES[attack]] = to_numpy(x_adv)
    predictions = {}
    for name, images in rows.items():
        logits = to_numpy(run.model.apply(run.params, _on(x, images)))
        predictions[name] = [f"pred {k}" for k in logits.argmax(axis=1)]
    grid = example_grid(rows, ctx.folder / "examples.png", labels=predictions,
                        title=f"{count} test images perturbed against {label} "
                              f"(l2 magnitude {radius:g}); captions: its predictions")
    last = list(rows)[-1]
    magnified = perturbation_grid(rows["clean"], rows[last] - rows["clean"],
                                  ctx.folder / "perturbation.png",
                                  title=f"{last} perturbation against {label}, magnified")
    return [grid, magnified]


def _on(like, array):
    """A NumPy array moved to the namespace of ``like``."""
    from refimpl.backend import get_namespace  # noqa: PLC0415
    return get_namespace(like).asarray(array)


def _huang_fixed(experiment, seed, data, ctx, radius):
    """The Fixed set: the separate Normal net (seed + 1000) moves every test point (correct or
    not) ``radius`` along its l2-normalised loss gradient; stored unclipped, keyed on the
    generator run, seeds, radius and data."""
    baseline = ctx.train(experiment.settings["fixed_from"], seed + 1000)
    settings = {"generator": baseline.run.key(), "generator_epochs": len(baseline.history),
                "generator_seed": seed + 1000, "seed": seed, "attack": "adv_loss",
                "radius": radius, "keep": "all", "clip": None}
    return ctx.fixed_set(f"fixed-seed{seed}", settings, lambda: evaluation.build_fixed_set(
        baseline.model, baseline.params, data.x_test, data.y_test, attacks=["adv_loss"],
        radius=radius, keep="all", seed=seed, clip=None,
        meta={"baseline": f"{baseline.run.model} trained normally, seed {seed + 1000}, "
                          f"{len(baseline.history)} epochs"}))


def shaham_table(experiment, trained: dict, data, ctx) -> dict:
    """Paper 001's Table 1: the test set and A_mnist, made against the baseline."""
    radii = experiment.settings["radii"]
    columns = ["clean", "a_mnist"]
    per_seed, sizes = [], []
    for s, seed in enumerate(ctx.seeds):
        base = trained["Baseline"][s]
        settings = {"generator": base.run.key(), "generator_epochs": len(base.history),
                    "generator_seed": seed, "radii": radii, "keep": "fooled"}
        fixed = ctx.fixed_set(f"a_mnist-seed{seed}", settings, lambda: evaluation.build_fixed_set(
            base.model, base.params, data.x_test, data.y_test, attacks=list(radii),
            radius=radii, keep="fooled", seed=seed, clip=None,
            meta={"baseline": f"{base.run.model}, seed {seed}", "radii": radii}))
        sizes.append(int(fixed.y.shape[0]))
        models = {label: (runs[s].model, runs[s].params) for label, runs in trained.items()}
        per_seed.append(_table(models, data, experiment, seed, [], radii["l2"], ctx,
                               fixed={"a_mnist": fixed}))
    columns += _pgd_columns(experiment)
    rows = aggregate(per_seed, columns)
    clean = {row["model"]: row["clean"] for row in rows}
    claims = [("robust training does not cost clean accuracy (each robust net within 0.5 % of "
               "the baseline or better)",
               all(clean[m] >= clean["Baseline"] - 0.005 for m in clean if m != "Baseline")),
              ("every robustified net classifies a good part of A_mnist correctly (> 20 %)",
               all((row["a_mnist"] or 0.0) > 0.2 for row in rows if row["model"] != "Baseline"))]
    return {"rows": rows, "columns": columns, "figures": [], "claims": claims,
            "pgd": pgd_settings(experiment, radii["l2"]),
            "extra": {"a_mnist_size_per_seed": sizes}}


def _robustness_claims(rows, attacks) -> list:
    by = {row["model"]: row for row in rows}
    normal = by.get("Normal")
    if normal is None:
        return []
    adversarial = [m for m in by if m not in ("Normal", "Dropout", "URN")]
    claims = [("the Normal net collapses under the attacks (below 50 % on every attacked set)",
               all(normal[a] < 0.5 for a in attacks if a != "urn"))]
    if adversarial:
        claims.append(("adversarially trained nets keep most of their accuracy (> 50 % on "
                       "every attacked set)",
                       all(by[m][a] > 0.5 for m in adversarial for a in attacks if a != "urn")))
        claims.append(("adversarial training does not cost clean accuracy (within 1 % of "
                       "Normal)", all(by[m]["clean"] >= normal["clean"] - 0.01
                                      for m in adversarial)))
    return claims


def _alpha_claim(rows) -> list:
    return [("Adv_Alpha is the strongest of the three attacks on every net",
             all(r["adv_alpha"] <= min(r["adv_loss"], r["adv_loss_sign"]) + 1e-12 for r in rows))]


MEASUREMENTS: dict[str, Callable[..., dict]] = {
    "robustness": robustness, "huang_table": huang_table, "shaham_table": shaham_table,
    "attack_curves": attack_curves, "precision_recall": precision_recall,
    "clean_error": clean_error, "gaussian_error": gaussian_error,
    "single_pixel_examples": single_pixel_examples}
