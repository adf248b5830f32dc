"""Accuracy of a trained MNIST model against one-step attacks of growing l2 magnitude, and the
success rate of the single-pixel l1 attack on a CNN.

This reproduces the measurement behind "Learning with a strong adversary", Fig. 1: a Normal MLP
784-100-100-10 attacked on the test set by Adv_Loss_Sign (the sign of the loss gradient,
rescaled to l2 norm c), Adv_Loss (the l2-normalised loss gradient), Adv_Alpha (the linearized
minimal perturbation from the softmax Jacobian, l2) and, from the k-support paper, the
k-support perturbation with K = 50 % of the pixels; c runs from 0 to 4. As in the papers, only
the test points the model classifies correctly are perturbed (the rest count as errors).

The curves come from :func:`refimpl.evaluation.accuracy_vs_magnitude`: every one of these
attacks perturbs along a direction that does not depend on c, so each direction is computed once
(at c = 1, unit l2 norm) and the accuracy at magnitude c is the accuracy on x + c * direction:
what calling the attack at each c would give (up to rounding).

Single pixel (Shaham et al.): the l1 steepest ascent puts the whole radius on the pixel of
largest |gradient|; the success rate is the fraction of correctly classified test points that
the attack makes misclassified, for a few radii (pixel units, images in [0, 1]).

Run (checkpoints from ``refimpl train``)::

    PYTHONPATH=. python3 bench/attack_strength.py --mlp runs/mlp-100-100/checkpoint.npz \\
        --cnn runs/lenet/checkpoint.npz --data-dir ../shared/data/mnist --out results/attacks
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import _environment  # noqa: E402

if __name__ == "__main__":  # OpenBLAS's native kernel: re-run without the image's overrides
    _environment.native_blas_or_reexec()

import numpy as np  # noqa: E402

from refimpl import data, nn  # noqa: E402
from refimpl.backend import to_numpy  # noqa: E402
from refimpl.evaluation import accuracy_vs_magnitude as evaluate_curves  # noqa: E402
from refimpl.perturbations import Lp, one_step  # noqa: E402
from refimpl.training import load_checkpoint  # noqa: E402

ATTACKS = {  # label in the outputs -> attack name in refimpl.evaluation.ATTACKS (l2 magnitudes)
    "Adv_Loss_Sign": "adv_loss_sign",
    "Adv_Loss": "adv_loss",
    "Adv_Alpha": "adv_alpha",
    "k-support (K = 50%)": "k_support",
}
PAPER_004_FIG1_ORDER = "Adv_Alpha <= Adv_Loss < Adv_Loss_Sign at every magnitude"


def load_model(path):
    params, _, meta = load_checkpoint(path)
    model = nn.build(meta["model"], tuple(meta["input_shape"]), meta["num_classes"])
    return model, params, meta


def accuracy_curves(model, params, x, y, magnitudes, batch_size=500):
    """label -> accuracies at each magnitude (fractions), over all of x."""
    curves = evaluate_curves(model, params, x, y, attacks=list(ATTACKS.values()),
                             magnitudes=magnitudes, batch_size=batch_size,
                             only_correct=True, clip=None)  # the papers' setting, explicitly
    return {label: curves[name] for label, name in ATTACKS.items()}


def single_pixel(model, params, x, y, radii, batch_size=500):
    """radius -> fraction of correctly classified points misclassified after the l1 attack."""
    logits_fn = lambda z: model.apply(params, z)  # noqa: E731
    flipped, clean_correct = np.zeros(len(radii)), 0
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        ok = np.argmax(to_numpy(logits_fn(xb)), axis=1) == yb
        clean_correct += int(ok.sum())
        direction = one_step(logits_fn, xb, yb, family=Lp(1), radius=1.0, only_correct=True).delta
        for i, r in enumerate(radii):
            predicted = np.argmax(to_numpy(logits_fn(xb + r * direction)), axis=1)
            flipped[i] += np.sum(ok & (predicted != yb))
    return {str(r): flipped[i] / clean_correct for i, r in enumerate(radii)}, clean_correct


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--mlp", type=pathlib.Path, required=True, help="MLP checkpoint")
    parser.add_argument("--cnn", type=pathlib.Path, default=None, help="CNN checkpoint")
    parser.add_argument("--data-dir", type=pathlib.Path, default=None)
    parser.add_argument("--subset", type=int, default=None, help="first N test images only")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("results/attacks"))
    args = parser.parse_args(argv)
    from refimpl.plotting import accuracy_vs_magnitude  # noqa: PLC0415

    ds = data.load("mnist", root=args.data_dir)
    x, y = ds.x_test[:args.subset], ds.y_test[:args.subset]
    magnitudes = [round(0.25 * i, 2) for i in range(17)]
    model, params, meta = load_model(args.mlp)
    began = time.perf_counter()
    curves = accuracy_curves(model, params, x, y, magnitudes)
    report = {"mlp": str(args.mlp), "model": meta["model"], "test_points": int(x.shape[0]),
              "magnitudes": magnitudes, "accuracy": curves,
              "at_1.5": {label: acc[magnitudes.index(1.5)] for label, acc in curves.items()},
              "seconds": time.perf_counter() - began}
    broken = [c for i, c in enumerate(magnitudes[1:], start=1)
              if not curves["Adv_Alpha"][i] <= curves["Adv_Loss"][i] < curves["Adv_Loss_Sign"][i]]
    report["paper_004_order_fails_at"] = broken
    args.out.mkdir(parents=True, exist_ok=True)
    accuracy_vs_magnitude({k: (magnitudes, v) for k, v in curves.items()},
                          args.out / "accuracy_vs_magnitude.png",
                          title=f"{meta['model']} (Normal) on MNIST test, {x.shape[0]} points")
    print(f"{meta['model']}: accuracy on {x.shape[0]} MNIST test points at l2 magnitude 1.5")
    for label, acc in report["at_1.5"].items():
        print(f"  {label:22s} {100 * acc:6.2f}%")
    print(f"paper 004 Fig. 1 order ({PAPER_004_FIG1_ORDER}): " + (
        "holds for every c in 0.25..4" if not broken else f"fails at c = {broken}"))
    for i, c in enumerate(magnitudes):
        print(f"  c = {c:4.2f}: " + "  ".join(f"{label} {100 * acc[i]:5.1f}%"
                                             for label, acc in curves.items()))
    if args.cnn is not None:
        cnn, cnn_params, cnn_meta = load_model(args.cnn)
        radii = [0.5, 1.0, 2.0, 4.0]
        rates, n_ok = single_pixel(cnn, cnn_params, x, y, radii)
        report["single_pixel"] = {"cnn": str(args.cnn), "model": cnn_meta["model"],
                                  "correct_points": n_ok, "success_rate": rates}
        print(f"single-pixel l1 attack on {cnn_meta['model']} ({n_ok} correctly classified "
              f"points): " + ", ".join(f"radius {r}: {100 * v:.1f}%" for r, v in rates.items()))
    (args.out / "attack_strength.json").write_text(json.dumps(report, indent=2))
    print(f"saved {args.out / 'attack_strength.json'} and accuracy_vs_magnitude.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
