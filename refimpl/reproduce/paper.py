"""The papers' published numbers, as data: what ``refimpl reproduce`` prints beside ours.

Every table records where it comes from (paper, table, the file in ``shared/papers``) and its
rows as {column: accuracy as a fraction}. The column keys are the ones our experiments write,
so a table can be compared cell by cell; ``columns`` maps each key to the paper's heading.
Values are copied as printed (single runs; paper 004's tables and its authors' notebooks differ
by up to 0.12 absolute, see SPEC.md).
"""

from __future__ import annotations

__all__ = ["PAPER_TABLES", "PAPER_TITLES"]

PAPER_TITLES = {
    "000": "Adversarial noise from the K-support norm, and training with it (IEEE Access, 2016)",
    "001": "Understanding adversarial training: increasing local stability of neural nets "
           "through robust optimization (Shaham, Yamada, Negahban)",
    "002": "Feed-forward sign noise g(x) = x + eps x l(x) in input and hidden space",
    "003": "A unified gradient regularization family for adversarial examples "
           "(Lyu, Huang, Liang)",
    "004": "Learning with a strong adversary (Huang, Xu, Schuurmans, Szepesvari)",
}

_HUANG_COLUMNS = {"clean": "Validation", "fixed": "Fixed", "adv_loss_sign": "Adv_Loss_Sign",
                  "adv_loss": "Adv_Loss", "adv_alpha": "Adv_Alpha"}
_KSUP_COLUMNS = {"clean": "Normal", "sign_l2": "l_inf norm", "l2": "l_2 norm",
                 "k_support": "Ksup-adv"}

PAPER_TABLES = {
    "huang-table1": {
        "paper": "004", "table": "Table 1", "file": "004_8f0c16072913587e.txt",
        "caption": "2-hidden-layer MLPs on MNIST; perturbations of l2 magnitude 1.5",
        "columns": _HUANG_COLUMNS,
        "rows": {
            "Normal": {"clean": 0.980, "fixed": 0.320, "adv_loss_sign": 0.187,
                       "adv_loss": 0.085, "adv_alpha": 0.073},
            "Dropout": {"clean": 0.983, "fixed": 0.337, "adv_loss_sign": 0.233,
                        "adv_loss": 0.115, "adv_alpha": 0.088},
            "Goodfellow": {"clean": 0.991, "fixed": 0.955, "adv_loss_sign": 0.928,
                           "adv_loss": 0.724, "adv_alpha": 0.711},
            "LWA": {"clean": 0.990, "fixed": 0.972, "adv_loss_sign": 0.939,
                    "adv_loss": 0.861, "adv_alpha": 0.854},
            "LWA_Rep": {"clean": 0.986, "fixed": 0.797, "adv_loss_sign": 0.819,
                        "adv_loss": 0.673, "adv_alpha": 0.646},
        },
    },
    "huang-table2": {
        "paper": "004", "table": "Table 2", "file": "004_8f0c16072913587e.txt",
        "caption": "LeNet on MNIST; perturbations of l2 magnitude 1.5",
        "columns": _HUANG_COLUMNS,
        "rows": {
            "Normal": {"clean": 0.9916, "fixed": 0.6342, "adv_loss_sign": 0.6940,
                       "adv_loss": 0.3998, "adv_alpha": 0.3792},
            "LWA": {"clean": 0.9932, "fixed": 0.9817, "adv_loss_sign": 0.9800,
                    "adv_loss": 0.9533, "adv_alpha": 0.9529},
        },
    },
    "ksup-table1": {
        "paper": "000", "table": "Table I", "file": "000_85b1ea022f22f328.txt",
        "caption": "LeNet on MNIST; perturbations of l2 magnitude 1.5",
        "columns": _KSUP_COLUMNS,
        "rows": {
            "Normal": {"clean": 0.990, "sign_l2": 0.857, "l2": 0.688, "k_support": 0.695},
            "Dropout": {"clean": 0.988, "sign_l2": 0.883, "l2": 0.708, "k_support": 0.722},
            "Goodfellow": {"clean": 0.992, "sign_l2": 0.981, "l2": 0.936, "k_support": 0.937},
            "Ksup": {"clean": 0.993, "sign_l2": 0.983, "l2": 0.960, "k_support": 0.960},
            "Ksup+Dropout25%": {"clean": 0.991, "sign_l2": 0.986, "l2": 0.967,
                                "k_support": 0.968},
            "Ksup+Dropout50%": {"clean": 0.991, "sign_l2": 0.985, "l2": 0.969,
                                "k_support": 0.968},
        },
    },
    "ksup-table2": {
        "paper": "000", "table": "Table II", "file": "000_85b1ea022f22f328.txt",
        "caption": "MLP 784-400-400-10 on MNIST; perturbations of l2 magnitude 1.5",
        "columns": _KSUP_COLUMNS,
        "rows": {
            "Normal": {"clean": 0.981, "sign_l2": 0.289, "l2": 0.205, "k_support": 0.214},
            "Dropout": {"clean": 0.983, "sign_l2": 0.393, "l2": 0.231, "k_support": 0.238},
            "Goodfellow": {"clean": 0.989, "sign_l2": 0.925, "l2": 0.717, "k_support": 0.717},
            "Ksup": {"clean": 0.987, "sign_l2": 0.936, "l2": 0.857, "k_support": 0.858},
            "Ksup+Dropout50%": {"clean": 0.984, "sign_l2": 0.956, "l2": 0.900,
                                "k_support": 0.900},
        },
    },
    "ksup-table3": {
        "paper": "000", "table": "Table III", "file": "000_85b1ea022f22f328.txt",
        "caption": "MLP 784-400-400-10 on MNIST trained on clean, uniform-noise (URN) and "
                   "k-support perturbed data; magnitude 1.5",
        "columns": {**_KSUP_COLUMNS, "gaussian": "URN"},
        "rows": {
            "Normal": {"clean": 0.981, "sign_l2": 0.289, "l2": 0.205, "k_support": 0.210,
                       "gaussian": 0.256},
            "URN": {"clean": 0.942, "sign_l2": 0.806, "l2": 0.666, "k_support": 0.667,
                    "gaussian": 0.631},
            "Ksup": {"clean": 0.986, "sign_l2": 0.931, "l2": 0.852, "k_support": 0.845,
                     "gaussian": 0.350},
        },
    },
    "lyu-table1": {
        "paper": "003", "table": "Table I (maxout and sigmoid MLP rows)", "file": "003_fe44c2e3b7a8eb32.txt",
        "caption": "Test error on permutation-invariant MNIST without data augmentation",
        "columns": {"error": "Test Error"},
        "rows": {"Maxout + dropout": {"error": 0.0094},
                 "Maxout + dropout + gradient p = 2": {"error": 0.0078},
                 "Sigmoid MLP + gradient p = 2": {"error": 0.0093}},
    },
    "lyu-table2": {
        "paper": "003", "table": "Table II (conv maxout rows)", "file": "003_fe44c2e3b7a8eb32.txt",
        "caption": "Test error on MNIST without data augmentation, convolutional architecture",
        "columns": {"error": "Test Error"},
        "rows": {"Conv. Maxout + dropout": {"error": 0.0045},
                 "Conv. Maxout + dropout + gradient p = inf": {"error": 0.0041},
                 "Conv. Maxout + dropout + gradient p = 2": {"error": 0.0039}},
    },
    "lyu-table4": {
        "paper": "003", "table": "Table IV",
        "file": "003_fe44c2e3b7a8eb32.txt",
        "caption": "Test error on MNIST under per-pixel Gaussian noise of std 0, 0.1, 0.3",
        "columns": {"std 0": "Gaussian std 0", "std 0.1": "0.1", "std 0.3": "0.3"},
        "rows": {"Maxout + dropout": {"std 0": 0.0094, "std 0.1": 0.0114, "std 0.3": 0.0242},
                 "Maxout + dropout + gradient p = 2": {"std 0": 0.0078, "std 0.1": 0.0083,
                                                       "std 0.3": 0.0129},
                 "Conv. Maxout + dropout": {"std 0": 0.0045, "std 0.1": 0.0076,
                                            "std 0.3": 0.2017},
                 "Conv. Maxout + dropout + gradient p = 2": {"std 0": 0.0039, "std 0.1": 0.0044,
                                                             "std 0.3": 0.1436}},
    },
    "signnoise-table4": {
        "paper": "002", "table": "Table 4 (MNIST rows)", "file": "002_714e41118cdeeccf.txt",
        "caption": "Test error of LeNets with dropout: plain, FGSM-trained, sign-noise (R-)",
        "columns": {"error": "Error(%)"},
        "rows": {"LeNet": {"error": 0.0050}, "FGSM-LeNet": {"error": 0.0060},
                 "R-LeNet": {"error": 0.0028}},
    },
    "shaham-table1": {
        "paper": "001", "table": "Table 1", "file": "001_2c0de69ed65fa96c.txt",
        "caption": "CNN on MNIST: the test set and A_mnist, adversarial examples made against "
                   "the baseline",
        "columns": {"clean": "MNIST test set", "a_mnist": "A_mnist"},
        "rows": {
            "Baseline": {"clean": 0.9909, "a_mnist": 0.0},
            "Robust l1": {"clean": 0.9916, "a_mnist": 0.3383},
            "Robust l2": {"clean": 0.9928, "a_mnist": 0.7655},
            "Robust linf": {"clean": 0.9933, "a_mnist": 0.7996},
        },
    },
}
"""Experiment name -> the paper's table (values as fractions, with its source)."""

_TABLE3 = PAPER_TABLES["ksup-table3"]
PAPER_TABLES["ksup-table3-uniform"] = {  # the same published numbers, our uniform-noise labels
    **_TABLE3, "columns": {**_KSUP_COLUMNS, "urn": "URN"},
    "rows": {("URN (uniform, l2 1.7)" if model == "URN" else model):
             {("urn" if column == "gaussian" else column): value for column, value in row.items()}
             for model, row in _TABLE3["rows"].items()}}
