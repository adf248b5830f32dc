"""``refimpl robustness CHECKPOINT``: accuracy under attack at several radii, for any checkpoint.

The checkpoint (from ``train`` or ``reproduce``) names its model and data set; the model is
loaded with :func:`refimpl.load_model` and attacked on its own test set (white box) by each
attack of :data:`refimpl.evaluation.ATTACKS`, at each radius of that attack's norm. Written to
``--out``: ``robustness.json`` (settings and every accuracy), ``robustness.csv`` (one line
per attack and radius), ``robustness_table.png`` (accuracy at each radius, one bar per attack)
and ``accuracy_vs_radius.png`` (one curve per attack, labelled with its norm).
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

DEFAULT_ATTACKS = "fgsm,pgd_linf,l2,adv_alpha"
LINF_RADII = (0.05, 0.1, 0.2, 0.3)
L2_FRACTIONS = (0.05, 0.1, 0.15, 0.2)  # of the test set's mean image l2 norm (MNIST: ~9.3)
STD_RADII = (0.1, 0.2, 0.3)


def add_parser(commands) -> None:
    """Register the ``robustness`` sub-command on the CLI's sub-parsers."""
    import argparse  # noqa: PLC0415

    from refimpl.cli import DefaultsFormatter, _data_arguments, _run  # noqa: PLC0415
    parser = commands.add_parser(
        "robustness", help="accuracy of a checkpoint under attack, at several radii",
        description="Attack CHECKPOINT's model on its own test set with each attack at each "
                    "radius (in that attack's norm) and write robustness.json, .csv and two "
                    "PNGs into OUT. Default radii: linf " + ", ".join(map(str, LINF_RADII))
                    + "; l2 and l1 " + ", ".join(map(str, L2_FRACTIONS)) + " times the test "
                    "set's mean l2 image norm (about 0.5, 0.9, 1.4, 1.9 on MNIST); Gaussian "
                    "std " + ", ".join(map(str, STD_RADII)) + ".",
        formatter_class=DefaultsFormatter)
    parser.add_argument("checkpoint", type=Path, help="checkpoint.npz (or its run folder)")
    parser.add_argument("--attacks", default=DEFAULT_ATTACKS,
                        help="comma-separated names from refimpl.evaluation.ATTACKS")
    parser.add_argument("--radii", default=None,
                        help="comma-separated radii for every attack (default: by norm, above)")
    parser.add_argument("--clip", action=argparse.BooleanOptionalAction, default=True,
                        help="clip attacked images to [0, 1] (--no-clip: the papers' setting)")
    parser.add_argument("--only-correct", action="store_true",
                        help="attack only correctly classified points (the papers' protocol)")
    parser.add_argument("--attack-mode", default="eval", choices=["eval", "train"],
                        help="take gradients in eval mode, or train mode (dropout active)")
    parser.add_argument("--subset", type=int, default=None,
                        help="score the first N test examples")
    parser.add_argument("--batch-size", type=int, default=500, help="rows per attack call")
    parser.add_argument("--seed", type=int, default=0, help="seed of noise and dropout masks")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: the checkpoint's folder)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or table")
    _data_arguments(parser)
    parser.set_defaults(run=_run("robustness", "robustness"))


def _numbers(text: str, name: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise ValueError(f"{name}: expected comma-separated numbers, got {text!r}") from err
    if not values or any(not v >= 0 for v in values):
        raise ValueError(f"{name}: expected numbers >= 0, got {text!r}")
    return values


def default_radii(norm: str, mean_l2: float) -> list[float]:
    """The radii of an attack measuring ``norm``, sized to the data (see the module)."""
    if norm == "linf":
        return list(LINF_RADII)
    if norm == "std":
        return list(STD_RADII)
    return [float(f"{c * mean_l2:.2g}") for c in L2_FRACTIONS]


def robustness(args) -> int:
    """Run the command; returns the exit status."""
    import numpy as np  # noqa: PLC0415
    from refimpl._progress import tqdm  # noqa: PLC0415

    from refimpl import evaluation  # noqa: PLC0415
    from refimpl.backend import device_of, namespace_by_name  # noqa: PLC0415
    from refimpl.data.pipeline import to_backend  # noqa: PLC0415
    from refimpl.commands.train import load_data  # noqa: PLC0415
    from refimpl.loading import load_model  # noqa: PLC0415
    began = time.perf_counter()
    xp = namespace_by_name(args.backend)
    names = [a.strip() for a in args.attacks.split(",") if a.strip()]
    specs = {name: evaluation.get_attack(name) for name in names}
    fixed_radii = None if args.radii is None else _numbers(args.radii, "--radii")
    if args.subset is not None and args.subset < 1:
        raise ValueError(f"--subset: expected N >= 1, got {args.subset}")
    out = Path(args.out) if args.out else Path(args.checkpoint).parent
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} is a file, expected a folder")
    loaded = load_model(args.checkpoint, xp=xp)
    if not loaded.dataset:
        raise ValueError(f"checkpoint {args.checkpoint}: its metadata does not name its data set")
    (_, _, x_test, y_test), _ = load_data(loaded.dataset, data_dir=args.data_dir,
                                          download=args.download, preprocess=loaded.preprocess)
    if args.subset:
        x_test, y_test = x_test[:args.subset], y_test[:args.subset]
    dtype = next(iter(loaded.params.values())).dtype
    x, y = to_backend((x_test, y_test), xp, dtype=dtype,
                      device=device_of(next(iter(loaded.params.values()))))
    mean_l2 = float(np.mean(np.linalg.norm(np.asarray(x_test).reshape(len(x_test), -1), axis=1)))
    clip = (0.0, 1.0) if args.clip else None
    radii = {n: fixed_radii or default_radii(s.norm, mean_l2) for n, s in specs.items()}
    clean = evaluation.accuracy(loaded.model, loaded.params, x, y, batch_size=args.batch_size)
    results = {}
    with tqdm(total=sum(map(len, radii.values())), disable=args.quiet,
              desc="robustness") as bar:
        for name, spec in specs.items():
            accuracies = []
            for r in radii[name]:
                accuracies.append(evaluation.accuracy_under_attack(
                    loaded.model, loaded.params, x, y, name, radius=r, clip=clip,
                    only_correct=args.only_correct, seed=args.seed, batch_size=args.batch_size,
                    attack_mode=args.attack_mode))
                bar.update()
            results[name] = {"norm": spec.norm, "label": spec.label(), "radii": radii[name],
                             "accuracy": accuracies}
    report = {"checkpoint": str(args.checkpoint), "model": loaded.model.name,
              "dataset": loaded.dataset, "test_examples": int(x.shape[0]), "clean": clean,
              "clip": list(clip) if clip else None, "only_correct": args.only_correct,
              "attack_mode": args.attack_mode, "seed": args.seed, "attacks": results,
              "wall_seconds": time.perf_counter() - began}
    _write(out, report)
    if not args.quiet:
        _print(report)
    return 0


def _write(out: Path, report: dict) -> None:
    """robustness.json, robustness.csv and the two PNGs in ``out``."""
    from refimpl.plotting import accuracy_vs_magnitude, bar_table  # noqa: PLC0415
    out.mkdir(parents=True, exist_ok=True)
    (out / "robustness.json").write_text(json.dumps(report, indent=2))
    with open(out / "robustness.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["attack", "norm", "radius", "accuracy"])
        writer.writerow(["clean", "", 0.0, report["clean"]])
        for name, found in report["attacks"].items():
            for r, a in zip(found["radii"], found["accuracy"]):
                writer.writerow([name, found["norm"], r, a])
    attacks = report["attacks"]
    title = f"{report['model']} on {report['dataset']} ({report['test_examples']} test images)"
    curves = {f["label"]: ([0.0] + f["radii"], [report["clean"]] + f["accuracy"])
              for f in attacks.values()}
    accuracy_vs_magnitude(curves, out / "accuracy_vs_radius.png", title=title,
                          xlabel="radius (in each attack's norm)")
    steps = max(len(f["radii"]) for f in attacks.values())
    columns = ["clean"] + [f"radius {i + 1}" for i in range(steps)]
    rows = [{"model": f"{n} ({f['norm']} " + "/".join(f"{r:g}" for r in f["radii"]) + ")",
             "clean": report["clean"],
             **{c: a for c, a in zip(columns[1:], f["accuracy"])}} for n, f in attacks.items()]
    bar_table(rows, columns, out / "robustness_table.png", title=title)


def _print(report: dict) -> None:
    print(f"{report['model']} on {report['dataset']}: clean accuracy "
          f"{100 * report['clean']:.1f}% ({report['test_examples']} test images, clip "
          f"{report['clip']}, only_correct {report['only_correct']})")
    for name, found in report["attacks"].items():
        cells = "  ".join(f"{r:g}: {100 * a:5.1f}%" for r, a in zip(found["radii"],
                                                                  found["accuracy"]))
        print(f"  {found['label']:18s} {cells}")
