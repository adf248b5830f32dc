"""``refimpl compare``: the field's central result in under a minute, on the embedded digits.

A normally trained net and an adversarially trained copy (same model, seed, data and schedule)
are attacked on the test set, white box, by FGSM and PGD in linf and by Adv_Alpha (paper 004's
linearized minimal perturbation) in l2, each at four radii sized to the data; the normal net
loses most of its accuracy to small perturbations, the adversarially trained one keeps much of
it, at a clean-accuracy cost of at most about a point.

The default adversary is paper 004's LWA (Algorithm 2, one l2 step along the loss gradient)
at the paper's MNIST radius 1.7 scaled by the data's mean image l2 norm
(:func:`~refimpl.commands.train.data_sized_radius`: 0.71 on digits, whose images have 0.42 times
MNIST's norm). Measured on digits with mlp-400-400 (20 epochs, seed 0), it raises the
accuracy under all three attacks at once: FGSM and PGD at linf 0.1 from 55 % and 50 % to 84 %
and 79 %, Adv_Alpha at l2 0.77 from 29 % to 65 %, for 0.3 points of clean accuracy (seeds 1
and 2 give the same picture within 3 points). FGSM training (``--method robust_lp --p inf
--radius 0.1``) is a little stronger in linf (87 % and 84 %) and weaker in l2 (52 % at 0.77);
LWA is the default because it shows the data-sized radius and gains in both norms. Both train
against a one-step adversary; PGD (40 steps, random start) is in the table to show that the
robustness is not an artefact of attacking with the same single step.

Radii: linf 0.05, 0.1, 0.15, 0.2 (pixels in [0, 1]; digits' 64 pixels make linf 0.1 at most
0.8 in l2), l2 0.05, 0.1, 0.15, 0.2 times the test images' mean l2 norm (0.19 to 0.77 on
digits). Attacked images are clipped to [0, 1]. Written to ``--out``: ``compare.json`` (every
setting and accuracy), ``compare.csv`` (one line per net, attack and radius),
``compare_table.png`` (bars at linf 0.1 and the largest l2 radius), ``accuracy_vs_linf_radius.png``
and ``accuracy_vs_l2_radius.png`` (one line per net and attack) and each net's
``METHOD/checkpoint.npz`` (``refimpl robustness`` takes them).
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

ATTACKS = ("fgsm", "pgd_linf", "adv_alpha")
LINF_RADII = (0.05, 0.1, 0.15, 0.2)
L2_FRACTIONS = (0.05, 0.1, 0.15, 0.2)  # of the test images' mean l2 norm
HEADLINE = 1  # the bar chart shows linf radius LINF_RADII[1] and the largest l2 radius


def add_parser(commands) -> None:
    """Register the ``compare`` sub-command on the CLI's sub-parsers."""
    from refimpl.cli import (DefaultsFormatter, _data_arguments,  # noqa: PLC0415
                             _method_defaults, _run)
    from refimpl.commands.train import radius_help  # noqa: PLC0415
    from refimpl.nn import MODELS  # noqa: PLC0415
    from refimpl.training import METHODS  # noqa: PLC0415
    parser = commands.add_parser(
        "compare", help="a normal and an adversarially trained net, side by side under attack",
        description="Train MODEL normally and with METHOD, then score both on the test set "
                    "clean and under " + ", ".join(ATTACKS) + " (linf radii "
                    + ", ".join(map(str, LINF_RADII)) + "; l2 radii "
                    + ", ".join(map(str, L2_FRACTIONS)) + " times the test images' mean l2 "
                    "norm: 0.19 to 0.77 on digits, 0.46 to 1.9 on MNIST; clipped to [0, 1]). "
                    "Prints the table and writes compare.json, compare.csv, compare_table.png, "
                    "accuracy_vs_linf_radius.png, accuracy_vs_l2_radius.png and both nets' "
                    "checkpoints into OUT.",
        formatter_class=DefaultsFormatter)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"],
                        help="data set")
    parser.add_argument("--model", default="mlp-400-400", choices=list(MODELS), metavar="NAME",
                        help="network, from refimpl train's list")
    parser.add_argument("--method", default="lwa",
                        choices=[m for m in METHODS if m not in ("normal", "dropout")],
                        help="the adversarial (or noise) training method")
    parser.add_argument("--radius", type=float, default=None,
                        help="training radius of METHOD; " + radius_help().replace(
                            "perturbation size; ", ""))
    parser.add_argument("--p", type=float, default=None,
                        help="norm exponent of METHOD" + _method_defaults("p"))
    parser.add_argument("--epochs", type=int, default=20, help="epochs of each net")
    parser.add_argument("--batch-size", type=int, default=64, help="examples per step")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (momentum 0.9)")
    parser.add_argument("--seed", type=int, default=0, help="seeds init, shuffles and PGD starts")
    parser.add_argument("--subset", type=int, default=None,
                        help="train on the first N training examples (quick runs)")
    parser.add_argument("--test-subset", type=int, default=None,
                        help="score the first N test examples (quick runs)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/compare-DATASET-seedSEED)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or table")
    _data_arguments(parser)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads; 1 by default, unlike train: these matrices are small "
                             "and a second thread made the run 6x slower on a busy 2-core machine")
    parser.set_defaults(run=_run("compare", "compare"))


def compare(args) -> int:
    """Run the command; returns the exit status."""
    from refimpl.commands.outdir import output_folder  # noqa: PLC0415
    out = Path(args.out or f"runs/compare-{args.dataset}-seed{args.seed}")
    with output_folder(out):
        report = _compare(args, out)
    if not args.quiet:
        _print(report, out)
    return 0


def _compare(args, out: Path) -> dict:
    from refimpl import evaluation, nn  # noqa: PLC0415
    from refimpl._progress import tqdm  # noqa: PLC0415
    from refimpl.backend import compute_device, make_rng, namespace_by_name  # noqa: PLC0415
    from refimpl.commands.train import load_data, mean_l2_norm  # noqa: PLC0415
    from refimpl.commands.train import method_from_arguments, training_mean_l2  # noqa: PLC0415
    from refimpl.data.pipeline import to_backend  # noqa: PLC0415
    from refimpl.training import fit, get_method  # noqa: PLC0415
    began = time.perf_counter()
    method_from_arguments(args)  # wrong options fail before any data is read
    xp = namespace_by_name(args.backend)
    dtype, device = xp.float32, compute_device(xp)
    arrays, ds = load_data(args.dataset, data_dir=args.data_dir, download=args.download,
                           subset=args.subset)
    test_l2 = mean_l2_norm(arrays[2])  # of the whole test set: --test-subset keeps the radii
    if args.test_subset:
        arrays = (*arrays[:2], arrays[2][:args.test_subset], arrays[3][:args.test_subset])
    adversarial = method_from_arguments(
        args, mean_l2=training_mean_l2(args.dataset, "none", arrays[0]))
    radii = {"linf": list(LINF_RADII), "l2": [float(f"{c * test_l2:.2g}") for c in L2_FRACTIONS]}
    x_train, y_train, x_test, y_test = to_backend(arrays, xp, dtype=dtype, device=device)
    model = nn.build(args.model, tuple(x_train.shape[1:]), ds.num_classes)
    meta = {"dataset": args.dataset, "preprocess": "none", "subset": args.subset,
            "input_shape": list(model.input_shape), "num_classes": ds.num_classes,
            "dtype": "float32"}
    nets = {}
    columns = [(a, r) for a in ATTACKS for r in radii[evaluation.get_attack(a).norm]]
    with tqdm(total=2 * (args.epochs + 1 + len(columns)), disable=args.quiet,
              desc="compare") as bar:
        for method in (get_method("normal"), adversarial):
            params = fit(model, model.init(make_rng(args.seed, xp, device=device), dtype),
                         (x_train, y_train), optimizer=nn.SGD(args.lr, momentum=0.9),
                         epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                         method=method, checkpoint=out / method.name / "checkpoint.npz",
                         meta={**meta, "method_settings": method.settings()},
                         quiet=True).params
            bar.update(args.epochs)
            scores = {"clean": evaluation.accuracy(model, params, x_test, y_test)}
            bar.update()
            for attack, radius in columns:
                scores[f"{attack}@{radius:g}"] = evaluation.accuracy_under_attack(
                    model, params, x_test, y_test, attack, radius=radius, seed=args.seed)
                bar.update()
            shown = [f"{k} {v:g}" for k, v in method.settings().items() if k in ("p", "radius")]
            label = method.name + (f" ({', '.join(shown)})" if shown else "")
            nets[label] = {"method": method.name, "settings": method.settings(), **scores}
    report = {"command": "compare", "model": args.model, "dataset": args.dataset,
              "train_examples": int(x_train.shape[0]), "test_examples": int(x_test.shape[0]),
              "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
              "seed": args.seed, "clip": [0.0, 1.0], "mean_l2_test": test_l2,
              "attacks": {a: {"norm": evaluation.get_attack(a).norm,
                              "radii": radii[evaluation.get_attack(a).norm]} for a in ATTACKS},
              "nets": nets, "wall_seconds": time.perf_counter() - began}
    _write(out, report)
    return report


def _rows(report: dict) -> list[tuple[str, str]]:
    """(row label, key in a net's scores) for every line of the table: clean, then each
    attack at each radius."""
    rows = [("clean", "clean")]
    for attack, found in report["attacks"].items():
        rows += [(f"{attack} ({found['norm']} {r:g})", f"{attack}@{r:g}") for r in found["radii"]]
    return rows


def _write(out: Path, report: dict) -> None:
    """compare.json, compare.csv, compare_table.png and the two curve PNGs in ``out``."""
    from refimpl.plotting import bar_table  # noqa: PLC0415
    (out / "compare.json").write_text(json.dumps(report, indent=2))
    with open(out / "compare.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["net", "attack", "norm", "radius", "accuracy"])
        for label, scores in report["nets"].items():
            writer.writerow([label, "clean", "", 0.0, scores["clean"]])
            for attack, found in report["attacks"].items():
                for r in found["radii"]:
                    writer.writerow([label, attack, found["norm"], r, scores[f"{attack}@{r:g}"]])
    title = (f"{report['model']} on {report['dataset']}, {report['epochs']} epochs, "
             f"{report['test_examples']} test images")
    headline = {"linf": lambda radii: radii[HEADLINE], "l2": lambda radii: radii[-1]}
    keys = ["clean"] + [f"{a}@{headline[f['norm']](f['radii']):g}"
                        for a, f in report["attacks"].items()]
    names = {key: row.replace(" (", "\n(") for row, key in _rows(report)}  # two-line ticks
    rows = [{"model": label, **{k: scores[k] for k in keys}}
            for label, scores in report["nets"].items()]
    bar_table(rows, keys, out / "compare_table.png", title=title, column_labels=names)
    _plot_curves(out, report, title)


def _plot_curves(out: Path, report: dict, title: str) -> None:
    """accuracy_vs_linf_radius.png and accuracy_vs_l2_radius.png: one line per (net, attack),
    from the clean accuracy at radius 0."""
    from refimpl.plotting import accuracy_vs_magnitude  # noqa: PLC0415
    for norm in ("linf", "l2"):
        curves = {f"{label}: {attack}": ([0.0] + found["radii"], [scores["clean"]] + [
                      scores[f"{attack}@{r:g}"] for r in found["radii"]])
                  for label, scores in report["nets"].items()
                  for attack, found in report["attacks"].items() if found["norm"] == norm}
        accuracy_vs_magnitude(curves, out / f"accuracy_vs_{norm}_radius.png", title=title,
                              xlabel=f"radius ({norm} norm)")


def _print(report: dict, out: Path) -> None:
    labels = list(report["nets"])
    width = max(14, *map(len, labels))
    print(f"{report['model']} on {report['dataset']} ({report['train_examples']} train / "
          f"{report['test_examples']} test images), {report['epochs']} epochs, seed "
          f"{report['seed']}; attacked images clipped to [0, 1]")
    print(f"{'test accuracy':24s}" + "".join(f"{label:>{width + 2}s}" for label in labels))
    for row, key in _rows(report):
        print(f"{row:24s}" + "".join(f"{100 * report['nets'][n][key]:>{width + 1}.1f}%"
                                     for n in labels))
    print(f"wall time {report['wall_seconds']:.1f} s; table and plots in {out}")
