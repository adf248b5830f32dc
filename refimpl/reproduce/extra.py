"""Measurements of the experiments added in the second round: test error tables (paper 002's
Table 4) and single-pixel adversarial examples with the pixel circled (paper 001's Fig. 1).

Same contract as :mod:`.measure`: ``measure(experiment, trained, data, ctx) -> dict`` with
``rows``, ``columns``, ``figures`` and ``claims``.
"""

from __future__ import annotations

from refimpl import evaluation
from refimpl.backend import to_numpy

from ._common import aggregate

__all__ = ["clean_error", "gaussian_error", "single_pixel_examples"]


def clean_error(experiment, trained: dict, data, ctx) -> dict:
    """Test error (1 - accuracy) of every model on the clean test set, mean over seeds."""
    per_seed = [[{"model": label, "error": 1.0 - evaluation.accuracy(
        runs[s].model, runs[s].params, data.x_test, data.y_test)}
        for label, runs in trained.items()] for s in range(len(ctx.seeds))]
    rows = aggregate(per_seed, ["error"])
    by = {row["model"]: row["error"] for row in rows}
    best = experiment.settings.get("best", list(by)[-1])  # the paper's best row
    claims = [(f"{best} has the lowest test error of the table",
               by[best] <= min(by.values()))] if len(by) > 1 else []
    return {"rows": rows, "columns": ["error"], "claims": claims, "figures": []}


def gaussian_error(experiment, trained: dict, data, ctx) -> dict:
    """Paper 003's Table IV: test error under per-pixel Gaussian noise of each std (every test
    point noised, one draw, no clipping), mean over seeds."""
    stds = list(experiment.settings["stds"])
    columns = [f"std {s:g}" for s in stds]
    per_seed = []
    for s, seed in enumerate(ctx.seeds):
        rows = []
        for label, runs in trained.items():
            errors = evaluation.gaussian_noise_error(runs[s].model, runs[s].params, data.x_test,
                                                     data.y_test, sigmas=stds, seed=seed)
            rows.append({"model": label, **{c: errors[std] for c, std in zip(columns, stds)}})
        per_seed.append(rows)
    rows = aggregate(per_seed, columns)
    by = {row["model"]: row for row in rows}
    pairs = [(plain, by[f"{plain} + gradient p = 2"]) for plain in by
             if f"{plain} + gradient p = 2" in by]  # (without, with) gradient regularisation
    claims = [(f"gradient regularisation lowers the error of {plain} under every noise std > 0",
               all(regularised[c] < by[plain][c] for c, std in zip(columns, stds) if std))
              for plain, regularised in pairs]
    return {"rows": rows, "columns": columns, "claims": claims, "figures": []}


def single_pixel_examples(experiment, trained: dict, data, ctx, count: int = 8) -> dict:
    """Paper 001 Fig. 1: the first correctly classified test points that the one-pixel l1
    step of ``radius`` makes the first model misclassify; top row clean, bottom row the
    adversarial image with the changed pixel circled. Rows: the fraction of correctly
    classified points fooled, per model."""
    import numpy as np  # noqa: PLC0415
    radius = experiment.settings["radius"]
    rows, figures = [], []
    for index, (label, runs) in enumerate(trained.items()):
        run, seed = runs[0], ctx.seeds[0]
        x_adv = evaluation.perturb(run.model, run.params, data.x_test, data.y_test, "l1",
                                   radius=radius, only_correct=True, seed=seed, clip=None)
        clean = to_numpy(run.model.apply(run.params, data.x_test)).argmax(axis=1)
        after = to_numpy(run.model.apply(run.params, x_adv)).argmax(axis=1)
        y = to_numpy(data.y_test)
        correct, fooled = clean == y, (clean == y) & (after != y)
        rows.append({"model": label, "fooled": float(fooled.sum() / max(correct.sum(), 1))})
        if index == 0:
            picked = np.flatnonzero(fooled)[:count]
            figures.append(_circled(to_numpy(data.x_test)[picked], to_numpy(x_adv)[picked],
                                    clean[picked], after[picked], ctx.folder / "single_pixel.png",
                                    title=f"Single-pixel (l1, radius {radius:g}) adversarial "
                                          f"examples against {label}"))
    claims = [("a single changed pixel makes the first net misclassify some correctly "
               "classified test points", rows[0]["fooled"] > 0)]
    return {"rows": rows, "columns": ["fooled"], "claims": claims, "figures": figures}


def _circled(x, x_adv, before, after, path, *, title: str):
    """Top row clean images, bottom row adversarial ones, the changed pixel circled."""
    import matplotlib  # noqa: PLC0415
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    n = max(len(x), 1)
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n, 3.6), squeeze=False)
    for i in range(n):
        for row in range(2):
            axes[row, i].axis("off")
        if i >= len(x):
            continue
        changed = np.abs(x_adv[i] - x[i]).reshape(x[i].shape[-2:] if x[i].ndim == 3
                                                    else x[i].shape)
        r, c = np.unravel_index(int(changed.argmax()), changed.shape)
        axes[0, i].imshow(x[i].reshape(changed.shape), cmap="gray")
        axes[0, i].set_title(f"pred {before[i]}", fontsize=8)
        axes[1, i].imshow(x_adv[i].reshape(changed.shape), cmap="gray")
        axes[1, i].add_patch(plt.Circle((c, r), 2.5, fill=False, color="red", linewidth=1.5))
        axes[1, i].set_title(f"pred {after[i]}", fontsize=8)
    fig.suptitle(title + ("" if len(x) else " (none found)"), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
