"""Questions 1.3.5-1.3.6: the dropout sweep, the choice of the best run, its predictions."""
import json
import re

import pytest
import torch

from common.reporting import figures as plots
from common.data import CLASSES, normalize
from common.model import ConvNet
from common.reporting.page import probability_table, whole_test_set_summary
from common.predict import predictions, shown_images
from conftest import copy_smoke_run, run_script


@pytest.fixture(scope="module")
def sweep(smoke_run, tmp_path_factory):
    """The smoke run's sweep (p = 0.2, 0.5, 0.8), then the same command again with --resume
    on a copy of its outputs."""
    smoke = copy_smoke_run(smoke_run, tmp_path_factory.mktemp("dropout"))
    again = run_script(
        "q1_3_dropout.py",
        "--data-dir",
        smoke.data,
        "--skip-checksum",
        "--quick",
        "--out",
        smoke.out,
        "--checkpoint-dir",
        smoke.ckpt,
        "--resume",
    )
    assert again.returncode == 0, again.stderr
    return smoke.out, smoke.result, again, json.loads((smoke.out / "q1_3_dropout.json").read_text())


@pytest.mark.e2e
def test_quick_sweep_trains_each_p_and_writes_every_output(sweep):
    out, first, _, record = sweep
    assert sorted(record["runs"]) == ["0.2", "0.5", "0.8"] and record["quick"] is True
    for p in ("0.2", "0.5", "0.8"):
        assert f"1.3.5 p = {p}: training" in first.stdout
        assert record["runs"][p]["train_config"]["dropout"] == float(p)
        for figure in (f"q1_3_5_dropout_{p}_loss.png", f"q1_3_5_dropout_{p}_accuracy.png"):
            assert figure in record["figures"]
    for name in record["figures"]:
        assert (out / name).stat().st_size > 500, name
    assert "q1_3_5_dropout_comparison.png" in record["figures"]
    assert "q1_3_6_probabilities.md" in record["figures"]


def test_resume_reuses_finished_runs(sweep):
    _, _, again, record = sweep
    assert again.stdout.count("reusing the finished run") == 3 and ": training" not in again.stdout


@pytest.mark.e2e
def test_resume_retrains_only_the_best_run_when_its_weights_are_gone(smoke_run, tmp_path):
    """1.3.6 needs the best run's weights; the other runs' numbers are enough from the JSON."""
    best = f"{json.loads((smoke_run.out / 'q1_3_dropout.json').read_text())['best_dropout']:g}"
    copy = copy_smoke_run(smoke_run, tmp_path)
    for kind in ("final", "last"):
        (copy.ckpt / f"q1_3_dropout_p{best}_quick_{kind}.pt").unlink()
    again = run_script(
        "q1_3_dropout.py",
        "--data-dir",
        copy.data,
        "--skip-checksum",
        "--quick",
        "--out",
        copy.out,
        "--checkpoint-dir",
        copy.ckpt,
        "--resume",
    )
    assert again.returncode == 0, again.stderr
    assert re.findall(r"1\.3\.5 p = (\S+): training", again.stdout) == [best]
    # Trained again before the folder's lock is taken, not while other sweeps wait on it.
    assert again.stdout.index(f"weights of p = {best} are not in") < again.stdout.index(
        "1.3.6 best dropout by"
    )


def test_the_best_p_is_the_highest_validation_accuracy_and_a_tie_goes_to_the_smaller_p():
    from q1_3_dropout import by_validation
    assert by_validation({"0.2": {"best_val_acc": 72.9}, "0.5": {"best_val_acc": 75.3},
                          "0.8": {"best_val_acc": 64.7}}) == "0.5"
    assert by_validation({"0.8": {"best_val_acc": 70.0}, "0.5": {"best_val_acc": 70.0},
                          "0.2": {"best_val_acc": 69.9}}) == "0.5"
    assert by_validation({"0.8": {"best_val_acc": 70.1}, "0.5": {"best_val_acc": 70.0}}) == "0.8"


def test_the_sweeps_record_names_its_best_p_as_by_validation_finds_it(sweep):
    from q1_3_dropout import by_validation
    record = sweep[3]
    assert record["best_dropout"] == float(by_validation(record["runs"]))


def test_predictions_are_probabilities_of_ten_classes(sweep):
    pred = sweep[3]["predictions"]
    assert len(pred["indices"]) == len(pred["true"]) == 10
    for mode in ("raw", "normalized"):
        probs = torch.tensor(pred[mode]["probs"])
        assert probs.shape == (10, 10) and (probs >= 0).all()
        torch.testing.assert_close(probs.sum(1), torch.ones(10))
        assert pred[mode]["pred"] == probs.argmax(1).tolist()
        right = sum(p == t for p, t in zip(pred[mode]["pred"], pred["true"]))
        assert pred[mode]["accuracy"] == pytest.approx(10 * right)


def test_ten_images_are_drawn_by_a_seeded_shuffle_of_the_test_set(sweep):
    """As the report's shuffled loader drew them: not the first ten, and the same each run."""
    record = sweep[3]
    indices = record["predictions"]["indices"]
    assert indices == shown_images(record["data"]["n_test"], seed=0) and indices != list(range(10))
    assert len(set(indices)) == 10 and len(set(record["predictions"]["true"])) >= 5


def test_raw_and_normalized_are_also_scored_on_the_whole_test_set(sweep):
    record = sweep[3]
    whole = record["predictions"]["test_set"]
    n_test = record["data"]["n_test"]
    for mode in ("raw", "normalized"):
        counts, recall = whole[mode]["predicted_counts"], whole[mode]["recall"]
        assert len(counts) == 10 and sum(counts) == n_test
        assert 0 <= whole[mode]["accuracy"] <= 100 and all(r is None or 0 <= r <= 100 for r in recall)
    assert "## The whole test set" in (sweep[0] / "q1_3_6_probabilities.md").read_text()


def test_summary_says_why_ten_images_of_one_class_can_favour_raw_inputs():
    # Fed raw, the model answers plane or cat for everything; the ten images are all planes.
    whole = {"raw": {"accuracy": 20.0, "predicted_counts": [600, 0, 0, 400] + [0] * 6,
                     "recall": [90.0, 0, 0, 80.0] + [0.0] * 6},
             "normalized": {"accuracy": 70.0, "predicted_counts": [100] * 10, "recall": [70.0] * 10}}
    pred = {"true": [0] * 10, "raw": {"accuracy": 90.0}, "normalized": {"accuracy": 70.0}, "test_set": whole}
    text = " ".join(whole_test_set_summary(pred))
    assert "70.00% fed normalized and 20.00% fed raw" in text
    assert "collapse onto 2 classes" in text and "plane 60.0%, cat 40.0%" in text
    assert "plane: 90.0% fed raw, 70.0% normalized" in text
    assert "plane is one the raw feed collapses onto" in text and "ties or beats" in text
    assert "lead on the ten is chance" not in text  # plane recall is higher fed raw here
    pred["raw"]["accuracy"] = 40.0  # the usual case: no excuse is needed
    assert "ties or beats" not in " ".join(whole_test_set_summary(pred))


def test_raw_and_normalized_inputs_differ_only_in_scaling():
    """The model sees [0,1] pixels fed raw and (x - mean) / std fed normalized: the same images,
    scaled and shifted, each scored against the true classes."""
    torch.manual_seed(0)
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    model = ConvNet().eval()
    result = predictions(model, images, torch.tensor([0, 1, 2]), torch.device("cpu"))
    with torch.no_grad():
        raw = torch.softmax(model(images.float() / 255), 1)
        normalized = torch.softmax(model(normalize(images)), 1)
    torch.testing.assert_close(torch.tensor(result["raw"]["probs"]), raw)
    torch.testing.assert_close(torch.tensor(result["normalized"]["probs"]), normalized)
    for mode, probs in (("raw", raw), ("normalized", normalized)):
        assert result[mode]["pred"] == probs.argmax(1).tolist()
        right = sum(p == t for p, t in zip(result[mode]["pred"], [0, 1, 2]))
        assert result[mode]["accuracy"] == pytest.approx(100 * right / 3)


def test_probability_table_has_class_columns_three_decimals_and_accuracies():
    pred = {
        "indices": [7, 8],
        "true": [0, 1],
        "raw": {"probs": [[0.5] + [0.5 / 9] * 9, [0.9] + [0.1 / 9] * 9], "pred": [0, 0], "accuracy": 50.0},
        "normalized": {
            "probs": [[1.0] + [0.0] * 9, [0.0, 1.0] + [0.0] * 8],
            "pred": [0, 1],
            "accuracy": 100.0,
        },
    }
    text = probability_table(pred, 0.5)
    assert "| image | true | predicted | " + " | ".join(CLASSES) + " |" in text
    assert "accuracy 50%" in text and "accuracy 100%" in text
    assert "| 1 (test #7) | plane | plane (right) | **0.500** | 0.056 |" in text
    assert "| 2 (test #8) | car | plane (WRONG) | **0.900** |" in text


def test_title_colour_follows_correctness(monkeypatch, tmp_path):
    assert plots.prediction_colour(3, 3) == "green" and plots.prediction_colour(3, 4) == "red"
    saved = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.setdefault("fig", fig))
    images = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    probs = torch.full((2, 10), 0.1)
    plots.plot_predictions(images, [1, 2], [1, 5], probs, tmp_path / "x.png", "t")
    colours = [ax.title.get_color() for ax in saved["fig"].axes[:2]]
    assert colours == ["green", "red"]


@pytest.mark.e2e
def test_image_indices_out_of_range_are_refused(tmp_path, cifar_root):
    result = run_script("q1_3_dropout.py", "--data-dir", cifar_root, "--skip-checksum", "--quick",
                        "--images", "5", "99999", "--out", tmp_path)
    assert result.returncode == 2 and "--images 99999" in result.stderr and "Traceback" not in result.stderr
