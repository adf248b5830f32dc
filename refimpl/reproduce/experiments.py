"""What each ``refimpl reproduce`` experiment trains and measures, with the papers' settings.

A :class:`Run` is one network trained one way (architecture, method and its options, SGD
settings, epochs); an :class:`Experiment` lists its runs and names the measurement that turns
them into a table or figure (:mod:`.measure`). Where a paper is silent the defaults are ours
and say so in ``notes``; SPEC.md's "Reproduction settings" is the source of the rest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

__all__ = ["Run", "Experiment", "EXPERIMENTS"]


@dataclass(frozen=True)
class Run:
    """One trained model: everything that determines its parameters except the seed."""

    label: str
    model: str
    method: str = "normal"
    options: dict = field(default_factory=dict)
    epochs: int = 20
    batch_size: int = 100
    lr: float = 0.1
    milestones: dict = field(default_factory=dict)  # epoch -> learning rate from then on
    momentum: float = 0.0
    dampening: float = 0.0
    weight_decay: float = 0.0
    lr_decay: float = 0.0
    shuffle: str = "epoch"  # "epoch", "once" (paper 004's notebooks) or "none" (file order)

    def with_epochs(self, epochs: int | None) -> "Run":
        """This run trained for ``epochs`` instead, milestones scaled in proportion."""
        if epochs is None or epochs == self.epochs:
            return self
        milestones = {max(1, round(e * epochs / self.epochs)): lr
                      for e, lr in self.milestones.items()}
        return Run(**{**asdict(self), "epochs": epochs, "milestones": milestones})

    def key(self) -> str:
        """A folder name that changes whenever a training setting changes (runs are shared
        between experiments writing into the same ``--out``)."""
        settings = {k: v for k, v in asdict(self).items() if k != "label"}
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode())
        return f"{self.model}-{self.method}-{digest.hexdigest()[:8]}"


@dataclass(frozen=True)
class Experiment:
    """A paper table or figure: its runs, the measurement, and the data pipeline."""

    name: str
    title: str
    paper: str
    runs: tuple
    measure: str
    preprocess: str = "none"
    settings: dict = field(default_factory=dict)
    notes: str = ""


# Paper 004, from its authors' MXNet notebooks: inputs byte / 256, weights U(-0.07, 0.07) and
# biases 0 (the mlp-*/lenet-tanh-* builders), plain SGD on the mean loss, batch 100, the training
# order shuffled once at load and kept every epoch. Schedules: epochs at lr 0.1, then the rest at
# the lower rate (milestones: epoch -> rate from then on).
_HUANG = dict(batch_size=100, lr=0.1, momentum=0.0, shuffle="once")
HUANG_NORMAL = Run("Normal", "mlp-100-100", **_HUANG, epochs=50, milestones={30: 0.01})
HUANG_FIXED_BASELINE = Run("Normal (separate, for Fixed)", "mlp-100-100", **_HUANG, epochs=30)
HUANG_MLPS = (
    HUANG_NORMAL,
    Run("Dropout", "mlp-200-200-dropout", "dropout", **_HUANG, epochs=80, milestones={50: 0.01}),
    # the notebooks' sum of clean and adversarial gradients at lr 0.05 / 0.005 is
    # alpha = 0.5 of the mean of the two losses at lr 0.1 / 0.01
    Run("Goodfellow", "mlp-500-500", "goodfellow",
        {"radius": 1.5, "alpha": 0.5, "magnitude": "l2"}, **_HUANG, epochs=80,
        milestones={50: 0.01}),
    Run("LWA", "mlp-500-500", "lwa", {"radius": 1.7}, **_HUANG, epochs=85,
        milestones={50: 0.02}),
    Run("LWA_Rep", "mlp-200-500", "lwa_rep", {"radius": 1.7}, **_HUANG, epochs=85,
        milestones={50: 0.02}),
)
HUANG_LENETS = (
    Run("Normal", "lenet-tanh-100", **_HUANG, epochs=50, milestones={30: 0.01}),
    Run("LWA", "lenet-tanh-400-dropout", "lwa", {"radius": 1.2}, **_HUANG, epochs=120,
        milestones={60: 0.01}),
)
HUANG_FIG1_LENET = Run("Normal", "lenet-tanh-100", **_HUANG, epochs=25)

# Paper 000: the code that appears to be its authors' extends paper 004's notebooks: plain SGD
# lr 0.1, batch 100, weights U(-0.07, 0.07), 40 epochs, order shuffled once, updates on the
# perturbed batch only (Goodfellow: alpha 0.5 as in paper 004's notebooks).
_KSUP = dict(batch_size=100, lr=0.1, momentum=0.0, epochs=40, shuffle="once")
KSUP_MLPS = (
    Run("Normal", "mlp-400-400-u07", **_KSUP),
    Run("Dropout", "mlp-400-400-dropout-u07", "dropout", **_KSUP),
    Run("Goodfellow", "mlp-400-400-u07", "goodfellow",
        {"radius": 1.7, "alpha": 0.5, "magnitude": "l2"}, **_KSUP),
    Run("Ksup", "mlp-400-400-u07", "ksup", {"radius": 1.7, "k": 0.5}, **_KSUP),
    Run("Ksup+Dropout50%", "mlp-400-400-dropout-u07", "ksup", {"radius": 1.7, "k": 0.5},
        **_KSUP),
)
KSUP_URN = Run("URN", "mlp-400-400-u07", "urn", {"radius": 1.7, "noise": "gaussian"}, **_KSUP)
KSUP_URN_UNIFORM = Run("URN (uniform, l2 1.7)", "mlp-400-400-u07", "urn",
                       {"radius": 1.7, "noise": "uniform"}, **_KSUP)
_KSUP_LENET = dict(_KSUP, epochs=40)
KSUP_LENETS = (
    Run("Normal", "lenet", **_KSUP_LENET),
    Run("Dropout", "lenet-dropout-50", "dropout", **_KSUP_LENET),
    Run("Goodfellow", "lenet", "goodfellow",
        {"radius": 1.7, "alpha": 0.5, "magnitude": "l2"}, **_KSUP_LENET),
    Run("Ksup", "lenet", "ksup", {"radius": 1.7, "k": 0.5}, **_KSUP_LENET),
    Run("Ksup+Dropout25%", "lenet-dropout-25", "ksup", {"radius": 1.7, "k": 0.5}, **_KSUP_LENET),
    Run("Ksup+Dropout50%", "lenet-dropout-50", "ksup", {"radius": 1.7, "k": 0.5}, **_KSUP_LENET),
)
# Paper 000's Fig. 4 and precision-recall curves use a 100x100 MLP (paper 004's Normal net).
KSUP_SMALL = tuple(Run(label, "mlp-100-100", method, options, **_KSUP) for label, method, options
                   in (("Normal", "normal", {}),
                       ("Goodfellow", "goodfellow", {"radius": 1.7, "alpha": 0.5,
                                                     "magnitude": "l2"}),
                       ("Ksup", "ksup", {"radius": 1.7, "k": 0.5}),
                       ("URN", "urn", {"radius": 1.7, "noise": "gaussian"})))

# Paper 001 (authors' Torch7 code): SGD lr 0.01, momentum 0.9 with Torch dampening 0.9, lr decay
# 5e-6 per step, L2 penalty 1e-3, batch 100, batches in file order; inputs padded to 32x32 and
# each split standardised with its own mean and std; Torch7 default init; the robust nets (not
# the baseline) start with an input BatchNorm. The baseline stops at 120 epochs; the robust
# scripts never stop: 120 epochs here too.
_SHAHAM = dict(batch_size=100, lr=0.01, momentum=0.9, dampening=0.9, weight_decay=1e-3,
               lr_decay=5e-6, epochs=120, shuffle="none")
SHAHAM_CNNS = (
    Run("Baseline", "shaham-cnn-torch", **_SHAHAM),
    Run("Robust l1", "shaham-cnn-torch-bn", "robust_lp", {"p": 1.0, "radius": 2.0}, **_SHAHAM),
    Run("Robust l2", "shaham-cnn-torch-bn", "robust_lp", {"p": 2.0, "radius": 2.0}, **_SHAHAM),
    Run("Robust linf", "shaham-cnn-torch-bn", "robust_lp", {"p": "inf", "radius": 0.2},
        **_SHAHAM),
)
SHAHAM_RADII = {"l1": 2.0, "l2": 2.0, "fgsm": 0.2}

# Paper 003 (Table I): sigmoid MLP 2x600, max-norm sqrt(15), gradient regularisation p = 2,
# sigma = 1, trained in two stages; the optimiser is not published (ours: the maxout paper's
# style, SGD lr 0.1 with momentum 0.5, batch 100). ``epochs`` is the cap of each stage.
_LYU = dict(batch_size=100, lr=0.1, momentum=0.5, epochs=200)
LYU_STAGES = {"held_out": 1 / 6, "patience": 10, "max_epochs": 200, "max_norm": 15 ** 0.5}
LYU_MLPS = (
    Run("Sigmoid MLP", "mlp-sigmoid-600-600", **_LYU),
    Run("Sigmoid MLP + gradient p = 2", "mlp-sigmoid-600-600", "gradreg",
        {"sigma": 1.0, "p": 2.0}, **_LYU),
)
LYU_MAXOUTS = (
    Run("Maxout + dropout", "maxout-240x5-dropout", "dropout", **_LYU),
    Run("Maxout + dropout + gradient p = 2", "maxout-240x5-dropout", "gradreg",
        {"sigma": 1.0, "p": 2.0}, **_LYU),
)

# Paper 003 (Table II): the maxout paper's conv net as its pylearn2 mnist.yaml has it, with the
# yaml's starting SGD values (lr 0.05, momentum 0.5, batch 128) and per-layer max norms (0.9 on
# the first layer's kernels, 1.9365 on the others and the softmax columns); the same two stages
# as Table I. Gradient regularisation: p = 2 at sigma 1 (the paper: sigma 1 for the maxout
# nets, "no other parameter setting is tested"), p = inf at sigma 0.1 (the paper found 0.1
# better than Goodfellow et al.'s 0.25 for this net).
_LYU_CONV = dict(batch_size=128, lr=0.05, momentum=0.5, epochs=200)
LYU_CONV_STAGES = {**LYU_STAGES, "max_norm": {"conv1.weight": 0.9, "conv2.weight": 1.9365,
                                              "conv3.weight": 1.9365, "dense1.weight": 1.9365}}
LYU_CONVS = (
    Run("Conv. Maxout + dropout", "conv-maxout-48-48-24-dropout", "dropout", **_LYU_CONV),
    Run("Conv. Maxout + dropout + gradient p = inf", "conv-maxout-48-48-24-dropout", "gradreg",
        {"sigma": 0.1, "p": "inf"}, **_LYU_CONV),
    Run("Conv. Maxout + dropout + gradient p = 2", "conv-maxout-48-48-24-dropout", "gradreg",
        {"sigma": 1.0, "p": 2.0}, **_LYU_CONV),
)
_LYU_CONV_NOTES = (
    "The net: the maxout paper's pylearn2 mnist.yaml (MaxoutConvC01B layers): input dropout "
    "0.2, then three stages of conv, maxout, max-pool and dropout 0.5: 48 units x 2 pieces of "
    "8x8, pool 4 stride 2; 48 x 2 of 8x8 with zero padding 3, pool 4 stride 2; 24 x 4 of 5x5 "
    "with padding 3, pool 2 stride 2; then the softmax layer (216 -> 10). Weights U(-0.05, "
    "0.05), not the yaml's U(-0.005, 0.005): at 0.005 our net stayed at chance (4 epochs on "
    "10,000 images: loss 2.3018 -> 2.3004, held-out accuracy 10 %), so stage 1's patience "
    "would end on a chance net; at 0.05 it passed 90 % in 3 epochs. Biases 0, one bias per output "
    "position (pylearn2's tied_b False). Pools keep a "
    "last window that runs past the edge (cuda-convnet's ceil rule: 21 -> 10, 9 -> 4, 6 -> 3). "
    "Maxout takes consecutive channels and comes before the pooling (the two maxima commute). "
    "Max norm per layer as the yaml: 0.9 on each first-layer kernel, 1.9365 on the other "
    "kernels and the softmax columns (biases free). Ours, not the yaml's: our Dropout rescales "
    "the kept inputs by 1/0.8 (the yaml's input scale is 1); constant momentum 0.5 and lr 0.05 "
    "(the yaml raises momentum to 0.7 over 250 epochs and divides the rate by 1.00004 every "
    "step); patience 10 epochs in stage 1 as lyu-table1 (the yaml: 100); the order reshuffled "
    "every epoch. Two stages as lyu-table1: the first 50,000 images until the error on the last "
    "10,000 has not fallen for 10 epochs (at most 200), then from the best parameters on all "
    "60,000 until the loss on the last 10,000 falls to the first stage's training loss (at most "
    "200 epochs). Gradient regularisation in its perturbation form L(x + sigma r), r the lp "
    "steepest-ascent direction of unit lp norm, computed with dropout off and held constant "
    "in the step, on [0, 1] pixels, without clipping and without a clean-loss term: p = inf at sigma 0.1 (the paper: 0.1 "
    "better than 0.25, Goodfellow et al.'s value for the maxout MLP; this is a sign step), p = 2 "
    "at sigma 1 (the paper's value for every maxout net, not tuned)")

# Paper 002 gives no optimiser, eps or layers for its MNIST LeNets (all with dropout): ours.
_SIGN = dict(batch_size=128, lr=0.05, momentum=0.9, epochs=20, milestones={14: 0.005})
SIGN_LENETS = (
    Run("LeNet", "lenet-dropout-50", "dropout", **_SIGN),
    Run("FGSM-LeNet", "lenet-dropout-50", "goodfellow",
        {"radius": 0.1, "alpha": 0.5, "magnitude": "own"}, **_SIGN),
    Run("R-LeNet", "lenet-dropout-50", "sign_noise", {"eps": 0.1, "prob": 0.5, "hidden": True},
        **_SIGN),
)

_MNIST_ATTACKS = ("magnitudes are l2 norms (the sign test set is sign(grad) rescaled to l2 "
                  "norm c); only correctly classified test points are attacked; no clipping")
_TRAIN_MODE = ("each attack's gradient is taken with the network in training mode (fresh "
               "dropout masks), predictions in evaluation mode (the authors' code)")
_HUANG_NOTES = ("Settings from the authors' MXNet notebooks: inputs byte/256, weights "
                "U(-0.07, 0.07), biases 0, plain SGD (momentum 0) on the mean loss, batch 100, "
                "the training order shuffled once at load and kept every epoch")


def schedule_text(run: Run) -> str:
    rates = [run.lr] + list(run.milestones.values())
    edges = [0] + list(run.milestones) + [run.epochs]
    return " + ".join(f"{b - a} at lr {r:g}" for a, b, r in zip(edges, edges[1:], rates))


def _schedules(runs) -> str:
    return "; ".join(f"{r.label} ({r.model}, {r.method}{' ' + str(r.options) if r.options else ''}"
                     f"): {schedule_text(r)}" for r in runs)


EXPERIMENTS = {e.name: e for e in (
    Experiment("huang-table1", "MLPs against l2-magnitude-1.5 attacks", "004", HUANG_MLPS,
               "huang_table", preprocess="byte256",
               settings={"radius": 1.5, "fixed_from": HUANG_FIXED_BASELINE, "attack_mode": "train",
                         "pgd": True},
               notes=f"{_MNIST_ATTACKS}; {_TRAIN_MODE}. {_HUANG_NOTES}. Schedules: "
                     f"{_schedules(HUANG_MLPS)}. Dropout 0.5 after the second hidden layer only. "
                     "Goodfellow: sign step rescaled to l2 1.5, the notebooks' sum of clean and "
                     "adversarial gradients at lr 0.05 / 0.005 = alpha 0.5 at 0.1 / 0.01. LWA: "
                     "l2 loss-gradient step 1.7, update on the adversarial batch only. LWA_Rep's "
                     "radius and schedule are not published: ours are 1.7 and LWA's. The Fixed "
                     "set: a separate Normal net (seed + 1000) trained "
                     f"{schedule_text(HUANG_FIXED_BASELINE)} moves every test point (correct or not) "
                     "1.5 along its l2-normalised loss gradient, stored unclipped."),
    Experiment("huang-table2", "LeNet (tanh) against l2-magnitude-1.5 attacks", "004",
               HUANG_LENETS, "huang_table", preprocess="byte256",
               settings={"radius": 1.5, "fixed_from": HUANG_LENETS[0], "attack_mode": "train",
                         "pgd": True},
               notes=f"{_MNIST_ATTACKS}; {_TRAIN_MODE}. {_HUANG_NOTES}. Schedules: "
                     f"{_schedules(HUANG_LENETS)} (LWA's lower rate is not in the notebooks we "
                     "know of: 0.01 is ours). The notebooks' Dropout (FC 200) and Goodfellow "
                     "LeNets are not in the paper's table and not trained here. The Fixed set "
                     "comes from a separate Normal LeNet (seed + 1000)."),
    Experiment("huang-fig1", "Attack strength: accuracy of a Normal LeNet against magnitude",
               "004", (HUANG_FIG1_LENET,), "attack_curves", preprocess="byte256",
               settings={"attacks": ["adv_loss_sign", "adv_loss", "adv_alpha"],
                         "magnitudes": [0.25 * i for i in range(17)]},
               notes=f"{_HUANG_NOTES}. The net: {_schedules((HUANG_FIG1_LENET,))}. Paper claim: "
                     "Adv_Alpha slightly stronger than Adv_Loss, both much stronger than "
                     "Adv_Loss_Sign, at every magnitude."),
    Experiment("ksup-table1", "LeNet: K-support training against l2-magnitude-1.5 noise", "000",
               KSUP_LENETS, "robustness", preprocess="byte256",
               settings={"radius": 1.5, "attacks": ["sign_l2", "l2", "k_support"],
                         "attack_mode": "train", "pgd": True},
               notes=f"{_MNIST_ATTACKS}; {_TRAIN_MODE}. The LeNet's optimiser is not published: "
                     f"the MLPs' (authors' code): {_schedules(KSUP_LENETS[:1])}, batch 100, "
                     "momentum 0, order shuffled once; He init (ours)."),
    Experiment("ksup-table2", "MLP 400x400: K-support training against l2-magnitude-1.5 noise",
               "000", KSUP_MLPS, "robustness", preprocess="byte256",
               settings={"radius": 1.5, "attacks": ["sign_l2", "l2", "k_support"],
                         "attack_mode": "train", "pgd": True},
               notes=f"{_MNIST_ATTACKS}; {_TRAIN_MODE}. The authors' code (extending paper 004's "
                     "notebooks): weights U(-0.07, 0.07), biases 0, plain SGD lr 0.1, batch 100, "
                     "order shuffled once, 40 epochs, training radius 1.7, K = 50 %, updates on "
                     "the perturbed batch only (Goodfellow: alpha 0.5, as paper 004's)."),
    Experiment("ksup-table3", "MLP 400x400: random noise (URN) against K-support training",
               "000", (KSUP_MLPS[0], KSUP_URN, KSUP_MLPS[3]), "robustness", preprocess="byte256",
               settings={"radius": 1.5, "attacks": ["sign_l2", "l2", "k_support", "gaussian"],
                         "radii": {"gaussian": 1.7}, "attack_mode": "train", "pgd": True},
               notes=f"{_MNIST_ATTACKS}; {_TRAIN_MODE}. URN as in the authors' code: Gaussian "
                     "noise of per-pixel std 1.7, not rescaled, in training and in the URN test "
                     "set (the 'gaussian' column; SPEC: only that reproduces the paper's URN "
                     "column). The paper's "
                     "text says uniform noise rescaled to the magnitude: that variant is "
                     "ksup-table3-uniform. Other settings as ksup-table2."),
    Experiment("ksup-table3-uniform", "MLP 400x400: l2-rescaled uniform noise (the paper's "
               "text) against K-support training", "000",
               (KSUP_MLPS[0], KSUP_URN_UNIFORM, KSUP_MLPS[3]), "robustness", preprocess="byte256",
               settings={"radius": 1.5, "attacks": ["sign_l2", "l2", "k_support", "urn"],
                         "attack_mode": "train", "pgd": True},
               notes=f"{_MNIST_ATTACKS}; {_TRAIN_MODE}. A labelled variant of ksup-table3: URN "
                     "is uniform noise rescaled to l2 norm 1.7 in training and 1.5 in the 'urn' "
                     "test column, as the paper's text describes (not its authors' code)."),
    Experiment("ksup-fig4", "Accuracy of a Normal 100x100 MLP against noise magnitude", "000",
               KSUP_SMALL[:1], "attack_curves", preprocess="byte256",
               settings={"attacks": ["sign_l2", "l2", "k_support", "urn"],
                         "magnitudes": [0.2 * i for i in range(20)]},
               notes="The net is trained like ksup-table2's. Paper claim: k-support noise lowers "
                     "accuracy faster than the sign (l_inf) noise."),
    Experiment("ksup-pr", "Micro-averaged precision-recall of 100x100 MLPs", "000", KSUP_SMALL,
               "precision_recall", preprocess="byte256",
               settings={"radius": 1.5, "attacks": ["clean", "l2", "sign_l2", "k_support@0.25",
                                                    "k_support", "k_support@0.75", "urn"]},
               notes="Nets trained like ksup-table2's. Paper claim: on perturbed test sets "
                     "K-support training has the largest area under the curve; on clean data it "
                     "is not better than Normal."),
    Experiment("huang-fig2", "LeNet: accuracy of each training method against the l2 norm of "
               "the perturbation", "004", HUANG_LENETS, "attack_curves", preprocess="byte256",
               settings={"attacks": ["adv_loss"], "magnitudes": [0.25 * i for i in range(13)],
                         "per_model": True, "xlabel": "l2 norm of the perturbation (Adv_Loss)"},
               notes=f"The nets of huang-table2 ({_HUANG_NOTES}). The paper's figure does not "
                     "name its attack: ours is Adv_Loss (the l2 loss-gradient step) made on each "
                     "net itself, only correctly classified points perturbed. Paper claim: LWA "
                     "is more accurate than Normal at every magnitude, with no loss of clean "
                     "accuracy."),
    Experiment("lyu-table1", "Sigmoid MLP 2x600 and maxout nets with gradient regularisation "
               "(p = 2): test error", "003", LYU_MAXOUTS + LYU_MLPS, "clean_error",
               settings={"two_stage": LYU_STAGES, "best": "Maxout + dropout + gradient p = 2"},
               notes="Inputs pixel/255. Two stages (as the paper, after the maxout paper): "
                     "train on the first 50,000 images until the error on the last 10,000 has "
                     "not fallen for 10 epochs (at most 200), then from the best parameters on "
                     "all 60,000 until the loss on the last 10,000 falls to the first stage's "
                     "training loss (at most 200 epochs). Max-norm sqrt(15) on every unit's "
                     "incoming weights; gradient regularisation in its perturbation form "
                     "L(x + sigma r), r the l2 steepest-ascent direction, sigma 1 (to first "
                     "order sigma ||grad_x L||_2). Optimiser ours: SGD lr 0.1, momentum 0.5, "
                     "batch 100. The plain sigmoid MLP row is ours (not in the paper's table). "
                     "Maxout rows: the maxout paper's net (input dropout 0.2, two layers of 240 "
                     "units x 5 pieces, dropout 0.5, U(-0.005, 0.005) init) with the same "
                     "two stages, optimiser and max-norm sqrt(15) (ours: the maxout paper used "
                     "1.9365, momentum rising to 0.7 and a decaying rate); gradient "
                     "regularisation's perturbation is computed with dropout off."),
    Experiment("lyu-table2", "Convolutional maxout nets with gradient regularisation (p = inf, "
               "p = 2): test error", "003", LYU_CONVS, "clean_error",
               settings={"two_stage": LYU_CONV_STAGES,
                         "best": "Conv. Maxout + dropout + gradient p = 2"},
               notes=f"Inputs pixel/255. {_LYU_CONV_NOTES}. The paper's Conv. Kernel Network row "
                     "(0.39 %, another paper's model) is not trained here."),
    Experiment("lyu-table4", "The nets of lyu-table1 and lyu-table2: test error under Gaussian "
               "noise", "003", LYU_MAXOUTS + LYU_MLPS + (LYU_CONVS[0], LYU_CONVS[2]),
               "gaussian_error",
               settings={"two_stage": LYU_STAGES,
                         "two_stage_by_model": {LYU_CONVS[0].model: LYU_CONV_STAGES},
                         "stds": [0.0, 0.1, 0.3]},
               notes="The nets of lyu-table1 and the conv maxout nets (without and with "
                     "gradient p = 2) of lyu-table2, trained there and shared (the conv nets "
                     "with lyu-table2's stages and max norms: two_stage_by_model). Every test "
                     "point gets one draw of per-pixel Gaussian noise of each std on [0, 1] "
                     "pixels, no clipping. The sigmoid MLP rows are ours, the same comparison "
                     "without and with gradient regularisation."),
    Experiment("signnoise-table4", "LeNet (dropout) test error: sign noise (R-LeNet) and FGSM "
               "training", "002", SIGN_LENETS, "clean_error",
               notes="Paper 002 gives no eps, noise layers, optimiser or schedule; ours: eps 0.1 "
                     "and p = 0.5 (fresh signs per element and step) on the inputs and every "
                     "hidden activation; FGSM training alpha 0.5 at linf radius 0.1 on [0, 1] "
                     "pixels; all three LeNets with dropout 0.5 after FC 400 (the table's "
                     f"Dropout column); {schedule_text(SIGN_LENETS[0])}, batch 128, momentum "
                     "0.9. The LeNet row is the clean error without the noise, R-LeNet with it."),
    Experiment("shaham-fig1", "Single-pixel adversarial examples against the baseline CNN",
               "001", SHAHAM_CNNS[:1], "single_pixel_examples",
               preprocess="pad32-standardize-own", settings={"radius": 2.0},
               notes="The baseline of shaham-table1. The l1 steepest-ascent step of radius 2 "
                     "(standardised units) changes the single pixel of largest |gradient|; the "
                     "figure shows the first correctly classified test points it fools."),
    Experiment("shaham-table1", "CNN: robust training and the fixed adversarial set A_mnist",
               "001", SHAHAM_CNNS, "shaham_table", preprocess="pad32-standardize-own",
               settings={"radii": SHAHAM_RADII, "pgd": True},
               notes="Authors' Torch7 code: Torch7 default init U(+-1/sqrt(fan_in)) for weights "
                     "and biases, an input BatchNorm (no affine, eps 1e-5, momentum 0.1, "
                     "statistics per channel) in the robust nets only, each split padded to "
                     "32x32 and standardised with its own mean and std, batches in file order, "
                     f"{schedule_text(SHAHAM_CNNS[0])} with momentum 0.9, dampening 0.9, lr decay "
                     "5e-6 per step, L2 penalty 1e-3, batch 100. The robust scripts never stop: "
                     "120 epochs, as the baseline. Training perturbations are computed with the "
                     "net in evaluation mode (running BatchNorm statistics; Torch7 used batch "
                     "statistics). A_mnist has no published recipe: the baseline's correctly "
                     "classified test points that one-step l1 (radius 2), l2 (2) or linf (0.2) "
                     "attacks make it misclassify, in standardised units."),
    Experiment("shaham-fig3", "CNNs against FGSM made on themselves, by epsilon", "001",
               SHAHAM_CNNS, "attack_curves", preprocess="pad32-standardize-own",
               settings={"attacks": ["fgsm"], "magnitudes": [0.05 * i for i in range(11)],
                         "per_model": True},
               notes="The nets of shaham-table1. epsilon in standardised units (0.2 = 0.055 in "
                     "[0, 1] pixels). Paper claim: the robustified nets are much more robust "
                     "than the baseline."),
)}
