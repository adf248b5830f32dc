"""refimpl's attacks beside torchattacks, ART and Foolbox 3 on the same weights, in float32.

A refimpl checkpoint is loaded (``refimpl.load_model``) and copied into a torch module whose
logits must equal refimpl's to 1e-5 on the test images before anything is attacked. On the
first N MNIST test images (pixel / 255 in [0, 1], every attack clipped to [0, 1], every point
attacked: only_correct=False) each library runs the attacks of :data:`SETTINGS`; refimpl also
runs in float64 (the same weights cast), the reference. Reported per attack and library:
accuracy under attack, the fraction of images whose perturbed prediction matches refimpl's
(float32 and float64), and how many x_adv equal refimpl's to 1e-6. DeepFool is scored as a
minimum-norm attack: accuracy at l2 radius 1.5 (an example counts as broken where its x_adv is
misclassified with ||delta||_2 <= 1.5) and the median norm over the clean-correct points
(inf where it failed).

Saturated points: where the float32 softmax probability of the label is exactly 1. There
p_y - 1 = 0 in float32, so a cross-entropy gradient computed as softmax - onehot (autograd of
log_softmax) loses its label term; refimpl's VJP uses -(sum_{j != y} p_j) instead. Each
library's float32 input gradient is compared with refimpl's float64 one by the cosine, on the
saturated points and on the others.

Run::

    PYTHONPATH=. python bench/peer_attacks.py --mlp CKPT [--cnn CKPT] \\
        --data-dir ../shared/data/mnist --n 1000 --out results/attacks/peers
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import time
from types import SimpleNamespace

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import refimpl  # noqa: E402
from refimpl import data, ops  # noqa: E402
from refimpl.backend import make_rng  # noqa: E402
from refimpl.nn.layers import MaxPool2d  # noqa: E402
from refimpl.perturbations import Lp, apgd_ce, deepfool, input_gradient, one_step, pgd  # noqa: E402
from refimpl.tracer import getval  # noqa: E402

import _peer_libraries as peers  # noqa: E402

SETTINGS = {  # one entry per attack; step sizes and radii in the attack's own norm
    "fgsm_linf_0.1": {"kind": "fgsm", "p": math.inf, "radius": 0.1},
    "fgsm_linf_0.2": {"kind": "fgsm", "p": math.inf, "radius": 0.2},
    "pgd_linf_0.2": {"kind": "pgd", "p": math.inf, "radius": 0.2, "steps": 40,
                     "step_size": 0.01, "random_start": False},
    "pgd_linf_0.2_random_start": {"kind": "pgd", "p": math.inf, "radius": 0.2, "steps": 40,
                                  "step_size": 0.01, "random_start": True, "seed": 0},
    "pgd_l2_1.5": {"kind": "pgd", "p": 2.0, "radius": 1.5, "steps": 40,
                   "step_size": 2.5 * 1.5 / 40, "random_start": False},
    "deepfool_l2": {"kind": "deepfool", "p": 2.0, "radius": 1.5, "steps": 50,
                    "overshoot": 0.02},
    "apgd_ce_linf_0.2": {"kind": "apgd", "p": math.inf, "radius": 0.2, "steps": 100,
                         "seed": 0},
}
DETERMINISTIC = ("fgsm", "pgd", "deepfool")  # kinds whose results should agree exactly
CLIP = (0.0, 1.0)


def naive_cross_entropy(logits, y):
    """-log_softmax(logits)[y] through autograd of log_softmax, as torch computes it: its
    label entry is -1 + p_y, which is 0 in float32 where p_y rounds to 1 (the peers' loss)."""
    raw = getval(logits)
    onehot = np.asarray(np.arange(raw.shape[1])[None, :] == np.asarray(y)[:, None], raw.dtype)
    return ops.negative(ops.sum(ops.multiply(ops.log_softmax(logits, axis=1), onehot), axis=1))


def refimpl_attack(logits_fn, setting, x, y, batch, loss_fn=None):
    """x_adv from refimpl for ``setting``, computed ``batch`` images at a time.

    The functions the registry's "fgsm", "pgd_linf" / "pgd_l2", "apgd_ce" and "deepfool_l2"
    call, with the settings spelled out (and a ``loss_fn``, which the registry does not take).
    """
    kind, r, p = setting["kind"], setting["radius"], setting["p"]
    random = setting.get("random_start", kind == "apgd")
    rng = make_rng(setting.get("seed", 0), np) if random else None  # one stream for all batches
    runs = {
        "fgsm": lambda xb, yb: one_step(logits_fn, xb, yb, family=Lp(math.inf), radius=r,
                                        clip=CLIP, loss_fn=loss_fn),
        "pgd": lambda xb, yb: pgd(logits_fn, xb, yb, radius=r, p=p, steps=setting.get("steps"),
                                  step_size=setting.get("step_size"), rng=rng, clip=CLIP,
                                  loss_fn=loss_fn),
        "apgd": lambda xb, yb: apgd_ce(logits_fn, xb, yb, radius=r, p=p,
                                       steps=setting.get("steps"), rng=rng, clip=CLIP,
                                       loss_fn=loss_fn),
        "deepfool": lambda xb, yb: deepfool(logits_fn, xb, yb, p=p, steps=setting.get("steps"),
                                            overshoot=setting.get("overshoot"), clip=CLIP),
    }  # DeepFool works on logit differences: no loss_fn
    run = runs[kind]
    return np.concatenate([np.asarray(run(x[i:i + batch], y[i:i + batch]).x_adv)
                           for i in range(0, len(x), batch)])


def predict(logits_fn, x, batch=500):
    return np.concatenate([np.argmax(np.asarray(logits_fn(x[i:i + batch])), axis=1)
                           for i in range(0, len(x), batch)])


def counted_prediction(setting, x, x_adv, y, logits_fn):
    """(N,) the prediction an attack is scored by; for DeepFool also the (N,) l2 norms.

    Fixed-radius attacks: the prediction at x_adv. DeepFool: at x_adv where x_adv is
    misclassified with ||x_adv - x||_2 <= radius, else at x; the norm is inf where it failed.
    """
    adv = predict(logits_fn, x_adv)
    if setting["kind"] != "deepfool":
        return adv, None
    norm = np.linalg.norm((x_adv.astype(np.float64) - x).reshape(len(x), -1), axis=1)
    norm = np.where(adv != y, norm, np.inf)
    return np.where(norm <= setting["radius"], adv, predict(logits_fn, x)), norm


def score(setting, x, x_adv, y, logits_fn, reference, groups):
    """Accuracy of one library's x_adv and its agreement with each ``reference`` (refimpl's
    own scores: "f64", "f32"), over all points and within each of ``groups`` (name -> (N,))."""
    pred, norm = counted_prediction(setting, x, x_adv, y, logits_fn)
    out = {"accuracy": float(np.mean(pred == y))}
    delta = (x_adv.astype(np.float64) - x).reshape(len(x), -1)
    out["max_delta_norm"] = float(np.max(np.linalg.norm(delta, ord=setting["p"], axis=1)))
    if norm is not None:
        clean_ok = predict(logits_fn, x) == y
        out["median_norm"] = float(np.median(norm[clean_ok]))
        out["failed"] = int(np.sum(np.isinf(norm[clean_ok])))
    for ref_name, ref in reference.items():
        same = pred == ref["pred"]
        if "x_adv" in ref:
            rows = np.max(np.abs(x_adv - ref["x_adv"]).reshape(len(x), -1), axis=1)
            out[f"max_abs_x_adv_diff_{ref_name}"] = float(np.max(rows))
            out[f"median_max_abs_x_adv_diff_{ref_name}"] = float(np.median(rows))
        for group, mask in groups.items():
            if not mask.any():
                continue
            out[f"agree_{ref_name}_{group}"] = float(np.mean(same[mask]))
            if "x_adv" in ref:
                out[f"x_adv_equal_{ref_name}_{group}"] = float(np.mean(rows[mask] <= 1e-6))
        if norm is not None:
            both = np.isfinite(norm) & np.isfinite(ref["norm"]) & (ref["norm"] > 0)
            rel = np.abs(norm[both] - ref["norm"][both]) / ref["norm"][both]
            out[f"median_rel_norm_diff_{ref_name}"] = float(np.median(rel)) if both.any() \
                else None
    return out, pred, norm


def top_probability(logits):
    """(N,) the float32 softmax probability of the predicted class."""
    z = logits.astype(np.float32)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).max(axis=1)


def saturated_mask(logits):
    """(N,) where the float32 softmax probability of the predicted label rounds to 1."""
    return top_probability(logits) == np.float32(1.0)


def confidence_groups(logits):
    """all / saturated (p = 1 in float32) / near (1 - 1e-3 <= p < 1: 1 - p keeps fewer than
    about 13 bits, so the cancelling gradients of two libraries differ in their last digits)
    / rest, by the float32 probability p of the predicted class."""
    p = top_probability(logits)
    saturated = p == np.float32(1.0)
    near = ~saturated & (p >= 1 - 1e-3)
    return {"all": np.ones_like(saturated), "saturated": saturated, "near": near,
            "rest": ~saturated & ~near}


def cosines(a, b):
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return np.where((na > 0) & (nb > 0), np.sum(a * b, axis=1) / np.maximum(na * nb, 1e-300),
                    0.0)


def summarize_cosines(cos, mask, grads, name):
    if not mask.any():
        return {"points": 0}
    c = cos[mask]
    zero = np.all(grads[name].reshape(len(cos), -1)[mask] == 0, axis=1)
    return {"points": int(mask.sum()), "median": float(np.median(c)), "min": float(np.min(c)),
            "below_0.99": int(np.sum(c < 0.99)), "zero_gradient": int(np.sum(zero))}


def gradient_report(loaded, loaded64, matched, net, x, y, correct):
    """Cosines of each float32 CE input gradient with refimpl's float64 one, and of each
    peer's with refimpl's matched one (the same arithmetic: it should be 1)."""
    grads = {"refimpl_f32": np.asarray(input_gradient(loaded.logits_fn, x, y)),
             "refimpl_f32_naive_ce": np.asarray(input_gradient(loaded.logits_fn, x, y,
                                                               naive_cross_entropy))}
    if matched.pooled:
        grads["refimpl_f32_ties_first"] = np.asarray(input_gradient(matched.logits_fn, x, y))
    grads["refimpl_f32_matched"] = np.asarray(input_gradient(matched.logits_fn, x, y,
                                                             naive_cross_entropy))
    for name, (_, gradient) in peers.LIBRARIES.items():
        grads[name] = gradient(net, x, y)
    references = {"f64": np.asarray(input_gradient(loaded64.logits_fn, x.astype(np.float64),
                                                    y)),
                  "matched": grads["refimpl_f32_matched"]}
    saturated = saturated_mask(np.asarray(loaded.logits_fn(x))) & correct
    report = {}
    for ref_name, ref in references.items():
        names = grads if ref_name == "f64" else list(peers.LIBRARIES)
        for name in names:
            cos = cosines(grads[name], ref)
            report.setdefault(ref_name, {})[name] = {
                "saturated": summarize_cosines(cos, saturated, grads, name),
                "not_saturated": summarize_cosines(cos, ~saturated & correct, grads, name)}
    return report


def float64_copy(path):
    """The checkpoint loaded again with its parameters cast to float64."""
    loaded = refimpl.load_model(path)
    params64 = {k: np.asarray(v, dtype=np.float64) for k, v in loaded.params.items()}
    model = loaded.model
    return loaded._replace(params=params64, logits_fn=lambda z: model.apply(params64, z))


def matched_copy(path):
    """refimpl arranged to compute as torch does: max-pool gradients to the first maximum of a
    tied window (``ties="first"``; the cancelling loss is passed per call).

    Returns:
        a namespace with ``logits_fn`` and ``pooled`` (whether the net has max-pooling).
    """
    loaded = refimpl.load_model(path)
    pooled = False
    for stack in (loaded.model.representation, loaded.model.classifier):
        for layer in stack.layers:
            if isinstance(layer, MaxPool2d):
                layer.ties, pooled = "first", True
    return SimpleNamespace(logits_fn=loaded.logits_fn, pooled=pooled)


def evaluate_model(path, x, y, batch, log):
    """Everything for one checkpoint: logits check, saturation, gradients, every attack."""
    loaded, loaded64, matched = (refimpl.load_model(path), float64_copy(path),
                                 matched_copy(path))
    net = peers.torch_module(loaded.model, loaded.params)
    ref_logits = np.asarray(loaded.logits_fn(x))
    gap = float(np.max(np.abs(peers.torch_logits(net, x) - ref_logits)))
    assert gap <= 1e-5 * max(1.0, float(np.max(np.abs(ref_logits)))), \
        f"torch logits differ from refimpl's by {gap}"
    correct = np.argmax(ref_logits, axis=1) == y
    saturated = saturated_mask(ref_logits)
    report = {"checkpoint": str(path), "model": loaded.meta["model"], "n": int(len(x)),
              "max_abs_logit_diff_torch": gap, "max_abs_logit": float(np.max(np.abs(ref_logits))),
              "clean_accuracy": float(np.mean(correct)),
              "saturated_points": int(np.sum(saturated)),
              "saturated_and_correct": int(np.sum(saturated & correct)),
              "pool_ties": "share" if matched.pooled else None}
    report["gradient_cosine"] = gradient_report(loaded, loaded64, matched, net, x, y, correct)
    report["attacks"] = {}
    groups = confidence_groups(ref_logits)
    report["points_per_group"] = {k: int(v.sum()) for k, v in groups.items()}
    for key, setting in SETTINGS.items():
        began = time.perf_counter()
        report["attacks"][key] = evaluate_attack(setting, loaded, loaded64, matched, net, x, y,
                                                 batch, groups)
        log(f"  {key}: " + ", ".join(f"{lib} {r['accuracy']:.3f}" for lib, r in
                                     report["attacks"][key].items())
            + f" ({time.perf_counter() - began:.0f} s)")
    return report


def evaluate_attack(setting, loaded, loaded64, matched, net, x, y, batch, groups):
    """Scores of every library for one attack against three references: refimpl float64,
    float32, and float32 "matched" to the peers' arithmetic (``matched_copy``)."""
    reference, results = {}, {}
    x64 = x.astype(np.float64)
    adv64 = refimpl_attack(loaded64.logits_fn, setting, x64, y, batch)
    results["refimpl_f64"], pred, norm = score(setting, x64, adv64, y, loaded64.logits_fn, {},
                                               groups)
    reference["f64"] = {"pred": pred, "norm": norm}
    adv32 = refimpl_attack(loaded.logits_fn, setting, x, y, batch)
    results["refimpl_f32"], pred, norm = score(setting, x, adv32, y, loaded.logits_fn,
                                               reference, groups)
    reference["f32"] = {"pred": pred, "norm": norm, "x_adv": adv32}
    if setting["kind"] != "deepfool" or matched.pooled:  # DeepFool takes no loss_fn
        adv = refimpl_attack(matched.logits_fn, setting, x, y, batch, naive_cross_entropy)
        results["refimpl_f32_matched"], pred, norm = score(setting, x, adv, y,
                                                           loaded.logits_fn, reference, groups)
        reference["matched"] = {"pred": pred, "norm": norm, "x_adv": adv}
    else:
        reference["matched"] = reference["f32"]
    for name, (attack, _) in peers.LIBRARIES.items():
        adv = attack(net, setting, x, y)
        if adv is not None:
            results[name] = score(setting, x, adv, y, loaded.logits_fn, reference, groups)[0]
    return results


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in
                pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=pathlib.Path(__file__).parent).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average": os.getloadavg(),
            "torch_threads": torch.get_num_threads(), "refimpl_commit": commit}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--mlp", type=pathlib.Path, required=True, help="MLP checkpoint")
    parser.add_argument("--cnn", type=pathlib.Path, default=None, help="CNN checkpoint")
    parser.add_argument("--data-dir", type=pathlib.Path, default=None)
    parser.add_argument("--n", type=int, default=1000, help="first N MNIST test images")
    parser.add_argument("--cnn-n", type=int, default=None,
                        help="first N test images for the CNN (default: --n)")
    parser.add_argument("--batch", type=int, default=250, help="refimpl's batch of images")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("results/attacks/peers"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    ds = data.load("mnist", root=args.data_dir)
    x, y = np.ascontiguousarray(ds.x_test[:args.n], np.float32), ds.y_test[:args.n]
    report = {"command": " ".join(sys.argv), "n": int(len(x)), "clip": list(CLIP),
              "settings": SETTINGS, "versions": {"refimpl": refimpl.__version__,
                                                 **peers.versions()},
              "machine": machine(), "models": {}}
    began = time.perf_counter()
    for label, path, n in (("mlp", args.mlp, args.n), ("cnn", args.cnn, args.cnn_n or args.n)):
        if path is not None:
            print(f"{label}: {path}, {n} images", flush=True)
            report["models"][label] = evaluate_model(path, x[:n], y[:n], args.batch,
                                                     lambda s: print(s, flush=True))
    report["seconds"] = time.perf_counter() - began
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.json").write_text(json.dumps(report, indent=2, default=float))
    (args.out / "table.md").write_text(markdown(report))
    print(markdown(report))
    return 0


LIBS = ["refimpl_f32", "refimpl_f64", "refimpl_f32_matched", "torchattacks", "art", "foolbox"]
PEERS = LIBS[3:]


def markdown(report) -> str:
    """Per model: accuracy under attack, agreement with refimpl, gradient cosines."""
    lines = []
    for label, model in report["models"].items():
        attacks = model["attacks"]
        present = [lib for lib in LIBS if any(lib in r for r in attacks.values())]
        lines += [f"### {label}: {model['model']} ({model['n']} MNIST test images, clean "
                  f"accuracy {model['clean_accuracy']:.3f}, {model['saturated_points']} "
                  f"saturated points)", "",
                  "Accuracy under attack (DeepFool: at l2 1.5, then the median minimum l2 norm "
                  "over the clean-correct points):", ""]
        lines += _table(present, attacks, _accuracy_cell)
        sizes = " / ".join(str(model["points_per_group"][g]) for g in ("saturated", "near",
                                                                         "rest"))
        lines += ["", f"Same perturbed prediction as refimpl f32: all points (saturated / near "
                  f"/ rest; {sizes} points)", ""]
        lines += _table(present[1:], attacks,
                        lambda r, lib: _groups_cell(r, lib, "agree", "f32"))
        lines += ["", "Against refimpl f32 matched (cancelling cross-entropy, max-pool ties to "
                  "the first maximum): same prediction; x_adv equal within 1e-6, all (saturated "
                  "/ near / rest); median of the per-image max |x_adv difference|", ""]
        lines += _table(PEERS, attacks, _matched_cell)
        cosine = model["gradient_cosine"]
        lines += ["", "Cosine of float32 CE input gradients, correctly classified points "
                  "(median / min / points below 0.99 / exactly zero gradients):", "",
                  "| gradient | against | saturated | not saturated |", "|---|---|---|---|"]
        for ref_name, against in (("f64", "refimpl f64"), ("matched", "refimpl f32 matched")):
            for lib, g in cosine[ref_name].items():
                cells = [f"{c['median']:.4f} / {c['min']:.4f} / {c['below_0.99']} of "
                         f"{c['points']} / {c['zero_gradient']}" if c["points"] else "—"
                         for c in (g["saturated"], g["not_saturated"])]
                lines.append(f"| {lib} | {against} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _table(columns, attacks, cell):
    rows = ["| attack | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for key, results in attacks.items():
        rows.append(f"| {key} | " + " | ".join(cell(results, lib) for lib in columns) + " |")
    return rows


def _accuracy_cell(results, lib):
    r = results.get(lib)
    if r is None:
        return "—"
    median = f" ({r['median_norm']:.3f})" if "median_norm" in r else ""
    return f"{r['accuracy']:.3f}{median}"


def _groups_cell(results, lib, what, ref):
    """``what`` against ``ref`` on all (saturated / not saturated) points; refimpl f64's
    agreement with f32 is stored on the f32 entry."""
    r = results.get(lib)
    if lib == "refimpl_f64":
        r, ref = results["refimpl_f32"], "f64"
    if r is None or f"{what}_{ref}_all" not in r:
        return "—"
    parts = [r.get(f"{what}_{ref}_{g}") for g in ("all", "saturated", "near", "rest")]
    text = [f"{v:.3f}" if v is not None else "—" for v in parts]
    return f"{text[0]} ({' / '.join(text[1:])})"


def _matched_cell(results, lib):
    r = results.get(lib)
    if r is None:
        return "—"
    ref = "matched" if "agree_matched_all" in r else "f32"
    return (f"{r[f'agree_{ref}_all']:.3f}; {_groups_cell(results, lib, 'x_adv_equal', ref)}; "
            f"{r[f'median_max_abs_x_adv_diff_{ref}']:.2g}")


if __name__ == "__main__":
    sys.exit(main())
