"""Curve measurements: accuracy against magnitude (papers 000, 001, 004) and micro-averaged
precision-recall (paper 000), with the papers' qualitative claims checked on our numbers."""

from __future__ import annotations

import statistics

from refimpl import evaluation

from ._common import attack_spec, papers_settings

__all__ = ["attack_curves", "precision_recall"]


def attack_curves(experiment, trained: dict, data, ctx) -> dict:
    """Accuracy against magnitude: one curve per attack (one model) or per model (one attack)."""
    from refimpl.plotting import accuracy_vs_magnitude  # noqa: PLC0415
    attacks, magnitudes = experiment.settings["attacks"], experiment.settings["magnitudes"]
    curves = {}
    for label, runs in trained.items():
        names = [a for a in attacks]
        per_seed = [evaluation.accuracy_vs_magnitude(
            r.model, r.params, data.x_test, data.y_test, attacks=names, magnitudes=magnitudes,
            seed=seed, **papers_settings(experiment))
            for r, seed in zip(runs, ctx.seeds)]
        for attack in names:
            name = label if experiment.settings.get("per_model") else evaluation.TITLES[attack]
            curves[name] = [statistics.fmean(c[attack][i] for c in per_seed)
                            for i in range(len(magnitudes))]
    xlabel = experiment.settings.get("xlabel") or (
        "epsilon (standardised units)" if experiment.settings.get("per_model")
        else "perturbation magnitude (l2 norm)")
    figure = accuracy_vs_magnitude({k: (magnitudes, v) for k, v in curves.items()},
                                   ctx.folder / "accuracy_vs_magnitude.png",
                                   title=experiment.title, xlabel=xlabel)
    rows = [{"model": name, **{f"{m:g}": a for m, a in zip(magnitudes, accs)}}
            for name, accs in curves.items()]
    return {"rows": rows, "columns": [f"{m:g}" for m in magnitudes], "figures": [figure],
            "claims": _curve_claims(experiment.name, curves, magnitudes)}


def precision_recall(experiment, trained: dict, data, ctx) -> dict:
    """Micro-averaged precision-recall per test set (one figure each), AP table over models."""
    from refimpl.plotting import pr_curves  # noqa: PLC0415
    columns, figures, rows = list(experiment.settings["attacks"]), [], {}
    for name in columns:
        curves = {}
        for label, runs in trained.items():
            run, seed = runs[0], ctx.seeds[0]
            attack, overrides = attack_spec(name)
            x = data.x_test if attack == "clean" else evaluation.perturb(
                run.model, run.params, data.x_test, data.y_test, attack,
                radius=experiment.settings["radius"], seed=seed, **overrides,
                **papers_settings(experiment))
            pr = evaluation.precision_recall(run.model, run.params, x, data.y_test)
            curves[label] = (pr["recall"], pr["precision"], pr["average_precision"])
            rows.setdefault(label, {"model": label})[name] = pr["average_precision"]
        figures.append(pr_curves(curves, ctx.folder / f"pr_{name.replace('@', '_k')}.png",
                                 title=f"{experiment.title}: {name} test set"))
    rows = list(rows.values())
    perturbed = [c for c in columns if c != "clean"]
    best = [max(rows, key=lambda r: r[c])["model"] for c in perturbed]
    claims = [("K-support training has the largest average precision on most perturbed sets",
               best.count("Ksup") > len(perturbed) / 2)]
    return {"rows": rows, "columns": columns, "figures": figures, "claims": claims,
            "extra": {"best_per_set": dict(zip(perturbed, best)), "seed": ctx.seeds[0]}}


def _curve_claims(name, curves, magnitudes) -> list:
    inner = range(1, len(magnitudes))
    if name == "huang-fig1":
        a, l, s = (curves[evaluation.TITLES[n]] for n in ("adv_alpha", "adv_loss", "adv_loss_sign"))
        return [("Adv_Alpha <= Adv_Loss < Adv_Loss_Sign at every magnitude > 0",
                 all(a[i] <= l[i] + 1e-12 and l[i] < s[i] for i in inner))]
    if name == "ksup-fig4":
        k, s = curves[evaluation.TITLES["k_support"]], curves[evaluation.TITLES["sign_l2"]]
        return [("K-support noise lowers accuracy more than l_inf (sign) noise at every "
                 "magnitude > 0", all(k[i] <= s[i] for i in inner))]
    if name == "huang-fig2":
        return [("LWA is more accurate than Normal at every magnitude > 0",
                 all(curves["LWA"][i] > curves["Normal"][i] for i in inner))]
    if name == "shaham-fig3":
        base = curves["Baseline"]
        return [("every robustified net is more accurate than the baseline at every epsilon > 0",
                 all(curves[m][i] > base[i] for m in curves if m != "Baseline" for i in inner))]
    return []
