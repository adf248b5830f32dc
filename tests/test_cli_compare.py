"""``refimpl compare`` on a tiny setting: both nets, every attack at every radius, the files;
and the CLI's training radii sized to the data set (``data_sized_radius``, ``--help``)."""

import csv
import json

import pytest

from refimpl.cli import build_parser, main
from refimpl.commands.compare import ATTACKS, L2_FRACTIONS, LINF_RADII
from refimpl.commands.train import (DIGITS_MEAN_L2, MNIST_MEAN_L2, data_sized_radius,
                                    mean_l2_norm)
from refimpl.data.pipeline import prepare


def test_compare_writes_both_nets_under_every_attack(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--epochs", "1", "--subset", "200", "--test-subset", "40",
                 "--model", "mlp-100-100", "--out", str(out)]) == 0
    report = json.loads((out / "compare.json").read_text())
    assert list(report["nets"]) == ["normal", "lwa (radius 0.71)"]  # digits-sized, not 1.7
    assert report["nets"]["lwa (radius 0.71)"]["settings"]["radius"] == 0.71
    assert list(report["attacks"]) == list(ATTACKS) and report["test_examples"] == 40
    l2_radii = [float(f"{c * report['mean_l2_test']:.2g}") for c in L2_FRACTIONS]
    assert l2_radii == [0.19, 0.39, 0.58, 0.77]  # the whole test set's, not the subset's
    assert report["attacks"]["fgsm"]["radii"] == list(LINF_RADII)
    assert report["attacks"]["adv_alpha"]["radii"] == l2_radii
    for scores in report["nets"].values():
        keys = ["clean"] + [f"{a}@{r:g}" for a, f in report["attacks"].items() for r in f["radii"]]
        assert all(0.0 <= scores[k] <= 1.0 for k in keys)
    with open(out / "compare.csv", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["net", "attack", "norm", "radius", "accuracy"]
    assert len(lines) == 1 + 2 * (1 + 3 * 4)
    for name in ("compare_table.png", "accuracy_vs_linf_radius.png", "accuracy_vs_l2_radius.png",
                 "normal/checkpoint.npz", "lwa/checkpoint.npz"):
        assert (out / name).stat().st_size > 0, name
    printed = capsys.readouterr().out
    assert "normal" in printed and "lwa (radius 0.71)" in printed
    for row in ("clean", "fgsm (linf 0.1)", "pgd_linf (linf 0.1)", f"adv_alpha (l2 {l2_radii[-1]:g})"):
        assert row in printed, row


def test_training_radii_are_sized_to_the_data_set():
    (x_train, _, _, _), _ = prepare("digits")
    assert mean_l2_norm(x_train) == pytest.approx(DIGITS_MEAN_L2, abs=0.01)
    assert data_sized_radius("lwa", "digits", DIGITS_MEAN_L2) == 0.71  # 1.7 * 3.87 / 9.21
    assert data_sized_radius("goodfellow", "digits", DIGITS_MEAN_L2) == 0.63
    assert data_sized_radius("lwa", "mnist", MNIST_MEAN_L2) is None  # the paper's own 1.7
    assert data_sized_radius("lwa", "digits", DIGITS_MEAN_L2, radius=1.7) is None  # as given
    assert data_sized_radius("goodfellow", "digits", DIGITS_MEAN_L2, magnitude="own") is None
    assert data_sized_radius("robust_lp", "digits", DIGITS_MEAN_L2) is None


@pytest.mark.parametrize("command", ["train", "compare"])
def test_help_shows_every_real_default(command):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    text = " ".join(sub.format_help().split())  # unwrapped
    assert "default: None" not in text
    assert "0.71 on digits" in text and "1.7 on MNIST" in text
    if command == "train":
        assert "default: ksup 0.5" in text and "(default: digits)" in text
    else:
        assert "(default: lwa)" in text and "(default: 20)" in text
