"""refimpl reproduce on a tiny synthetic MNIST: every experiment end to end, caching and
resumption of runs, the paper tables' consistency with the experiments, and the CLI."""

import json
import math

import numpy as np
import pytest
from reproduce_helpers import write_synthetic_mnist

from refimpl.cli import main
from refimpl.reproduce import EXPERIMENTS, PAPER_TABLES, measure, reproduce
from refimpl.reproduce.experiments import Run
from refimpl.reproduce.report import compare, format_table


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    """A learnable MNIST look-alike: each class a bright band at its own rows, plus noise."""
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), 120, 40)


# Training images per experiment where 120 would be slow: the conv maxout nets of paper 003
# cost ~30 MLP steps per image (lyu-table4 shares lyu-table2's, so both take the same subset).
SUBSETS = {"lyu-table2": 24, "lyu-table4": 24}


@pytest.fixture(scope="module")
def results(mnist_dir, tmp_path_factory):
    """Every experiment, one epoch per run, into one output folder (runs are shared)."""
    out = tmp_path_factory.mktemp("reproduce")
    lines = []
    steps, measure.PGD_STEPS = measure.PGD_STEPS, 3  # the PGD column, cheaply
    try:
        done = {name: reproduce(name, out=out, epochs=1, data_dir=mnist_dir, quiet=True,
                                subset=SUBSETS.get(name), log=lines.append)
                for name in EXPERIMENTS}
    finally:
        measure.PGD_STEPS = steps
    return out, done, "\n".join(lines)


def test_every_experiment_writes_its_results(results):
    out, done, printed = results
    for name, result in done.items():
        experiment = EXPERIMENTS[name]
        folder = out / name
        saved = json.loads((folder / "result.json").read_text())
        assert saved["experiment"] == name and saved["seeds"] == [0]
        assert saved["data"]["train_examples"] == SUBSETS.get(name, 120)
        assert saved["data"]["test_examples"] == 40
        assert {run["label"] for run in saved["runs"]} == {r.label for r in experiment.runs}
        assert all(run["epochs"] == 1 for run in saved["runs"])
        header = (folder / "table.csv").read_text().splitlines()[0]
        assert header == "model,column,ours,paper,difference,std"
        for row in result["rows"]:
            for column in result["columns"]:
                if row[column] is None:  # an empty A_mnist after one epoch: nothing to score
                    assert column == "a_mnist", (name, row["model"])
                    continue
                assert 0.0 <= row[column] <= 1.0, (name, row["model"], column)
        for path in result["files"]:
            assert (folder / path.split("/")[-1]).is_file() or path.endswith(".png")
        pngs = list(folder.glob("*.png"))
        assert pngs and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs), name
        assert isinstance(result["claims"], list)
        assert f"epochs [1]" in printed


def test_tables_carry_the_papers_values(results):
    _, done, printed = results
    for name, paper in PAPER_TABLES.items():
        rows = done[name]["rows"]
        assert {r["model"] for r in rows} >= set(paper["rows"]), name  # ours may add rows
        assert set(paper["columns"]) | {"pgd40_l2"} >= set(done[name]["columns"]), name
        assert set(paper["columns"]) <= set(done[name]["columns"]), name
        record = next(r for r in compare(name, rows, done[name]["columns"])
                      if r["paper"] is not None)
        assert record["paper"] == paper["rows"][record["model"]][record["column"]]
        assert record["difference"] == pytest.approx(record["ours"] - record["paper"])
    assert "(98.0, " in printed  # the Normal MLP's clean accuracy in huang-table1, in brackets


def test_paper_tables_are_fractions_with_a_source():
    for name, paper in PAPER_TABLES.items():
        assert name in EXPERIMENTS and paper["file"].startswith(paper["paper"])
        for row in paper["rows"].values():
            assert all(0.0 <= v <= 1.0 for v in row.values())


def test_fixed_sets_are_stored_and_sized(results):
    out, done, _ = results
    (fixed_path,) = (out / "huang-table1").glob("fixed-seed0-*.npz")
    fixed = np.load(fixed_path)
    assert fixed["x"].shape == (40, 1, 28, 28)  # keep="all": every test point moved
    (a_mnist_path,) = (out / "shaham-table1").glob("a_mnist-seed0-*.npz")
    a_mnist = np.load(a_mnist_path)
    assert a_mnist["x"].shape[1:] == (1, 32, 32)
    assert done["shaham-table1"]["extra"]["a_mnist_size_per_seed"] == [a_mnist["x"].shape[0]]
    baseline = next(r for r in done["shaham-table1"]["rows"] if r["model"] == "Baseline")
    assert baseline["a_mnist"] in (0.0, None) or a_mnist["x"].shape[0] == 0


def test_a_smaller_test_set_gets_its_own_fixed_set_and_runs_are_recorded(results, mnist_dir):
    out, done, _ = results
    smaller = reproduce("huang-table1", out=out, epochs=1, data_dir=mnist_dir, test_subset=20,
                        quiet=True, log=lambda _: None)
    sets = sorted((out / "huang-table1").glob("fixed-seed0-*.npz"))
    assert len(sets) == 2 and sorted(np.load(p)["x"].shape[0] for p in sets) == [20, 40]
    (generator,) = smaller["extra_runs"]
    assert generator["epochs"] == 1 and generator["epochs_trained"] == 1
    assert generator["seed"] == 1000
    assert all(run["epochs_trained"] == [1] for run in smaller["runs"])
    assert smaller["settings"]["fixed_from"]["epochs"] == 1


def test_runs_are_cached_and_not_retrained(results, mnist_dir):
    out, done, _ = results
    shared = {tuple(r["folders"]) for name in ("ksup-table2", "ksup-table3")
              for r in done[name]["runs"] if r["label"] in ("Normal", "Ksup")}
    assert len(shared) == 2  # ksup-table3 reused ksup-table2's Normal and Ksup networks
    checkpoint = out / "models" / EXPERIMENTS["ksup-table3"].runs[1].with_epochs(1).key() / \
        "seed0-train120-byte256" / "checkpoint.npz"
    before = checkpoint.stat().st_mtime_ns
    again = reproduce("ksup-table3", out=out, epochs=1, data_dir=mnist_dir, quiet=True,
                      log=lambda _: None)
    assert checkpoint.stat().st_mtime_ns == before
    assert again["rows"] == done["ksup-table3"]["rows"]


def test_lyu_table4_shares_the_nets_of_lyu_tables_1_and_2(results):
    """Each net of lyu-table4 is the one trained for lyu-table1 or lyu-table2, found through
    the stages of its own table (the conv nets: lyu-table2's per-layer max norms)."""
    _, done, _ = results
    folders = {label: tuple(r["folders"]) for name in ("lyu-table1", "lyu-table2")
               for r in done[name]["runs"] for label in [r["label"]]}
    for run in done["lyu-table4"]["runs"]:
        if run["label"].startswith("Conv."):
            assert tuple(run["folders"]) == folders[run["label"]], run["label"]
            assert "train24" in run["folders"][0]
    conv = {r["label"]: r for r in done["lyu-table4"]["runs"] if r["label"].startswith("Conv.")}
    assert set(conv) == {"Conv. Maxout + dropout", "Conv. Maxout + dropout + gradient p = 2"}
    table2 = {row["model"] for row in done["lyu-table2"]["rows"]}
    assert table2 == set(PAPER_TABLES["lyu-table2"]["rows"])
    claims = dict(done["lyu-table4"]["claims"])
    assert any("Conv. Maxout + dropout" in claim for claim in claims)


def test_a_longer_run_resumes_from_the_checkpoint(mnist_dir, tmp_path):
    lines = []
    reproduce("ksup-fig4", out=tmp_path, epochs=2, data_dir=mnist_dir, subset=60, seeds=[3],
              log=lines.append)
    saved = json.loads((tmp_path / "ksup-fig4" / "result.json").read_text())
    assert saved["data"]["train_examples"] == 60 and saved["runs"][0]["epochs"] == 2
    assert "epoch 2/2" in "\n".join(lines)


def test_seeds_are_averaged(mnist_dir, tmp_path):
    result = reproduce("ksup-table3", out=tmp_path, epochs=1, data_dir=mnist_dir, seeds=[0, 1],
                       quiet=True, log=lambda _: None)
    for row in result["rows"]:
        values = row["clean_per_seed"]
        assert len(values) == 2 and row["clean"] == pytest.approx(sum(values) / 2)
        assert row["clean_std"] == pytest.approx(abs(values[0] - values[1]) / math.sqrt(2))


def test_run_keys_and_epoch_scaling():
    run = Run("Normal", "mlp-100-100", epochs=50, milestones={30: 0.01})
    assert run.with_epochs(5).milestones == {3: 0.01}
    assert run.with_epochs(None) is run
    assert Run("Other label", "mlp-100-100", epochs=50, milestones={30: 0.01}).key() == run.key()
    assert run.with_epochs(5).key() != run.key()
    assert Run("Normal", "mlp-100-100", "lwa", {"radius": 1.0}).key() != \
        Run("Normal", "mlp-100-100", "lwa", {"radius": 1.5}).key()


def test_format_table_shows_ours_beside_the_papers():
    rows = [{"model": "Baseline", "clean": 0.99, "a_mnist": 0.0}]
    text = format_table("shaham-table1", rows, ["clean", "a_mnist"])
    assert "99.0 (99.1, -0.1)" in text and "A_mnist" in text and "Table 1 of paper 001" in text


def test_cli(mnist_dir, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in EXPERIMENTS)
    with pytest.raises(SystemExit):
        main(["reproduce", "no-such-table"])
    assert "invalid choice" in capsys.readouterr().err
    assert main(["reproduce", "huang-table2", "--epochs", "1", "--subset", "30",
                 "--test-subset", "20", "--data-dir", str(mnist_dir), "--out", str(tmp_path),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "LWA" in printed and "(99.3, " in printed
    assert (tmp_path / "huang-table2" / "table.png").is_file()
    missing = main(["reproduce", "ksup-table2", "--data-dir", str(tmp_path / "none"),
                    "--out", str(tmp_path), "--quiet"])
    assert missing == 3 and "mnist" in capsys.readouterr().err.lower()  # 3: file not found
