"""The code that decides what REPORT.md says, at its edges: the tests behind each verdict
(their thresholds, their counts, their p-values), the spread over seeds, the fit of the two
readings, which runs count as a run's seeds, and the data's split and statistics. Fast:
synthetic numbers, records and tensors only, so that mutation testing (pyproject.toml,
[tool.mutmut]) can run them for every change it makes."""
import json
import math
import statistics
from pathlib import Path

import pytest
import torch
from scipy.stats import ttest_1samp, ttest_ind

from common.config import BASELINE, READINGS, STUDENT, TrainConfig, as_dict
from common.data import mean_and_std, split_indices
from common.errors import UsageError
from common.reporting import readings, stats
from common.reporting.folder import FedBothWays, Results, damaged_words
from common.reporting.stats import FAILS, HOLDS, UNSURE, Spread

HIGH, LOW = [74.1, 74.6, 74.3], [69.2, 69.8, 69.5]


# The verdicts' words and constants, as REPORT.md states them.

def test_the_three_verdicts_read_as_the_report_writes_them():
    assert (HOLDS, FAILS, UNSURE) == ("holds", "does not hold", "cannot tell at this number of seeds")


def test_the_rule_states_the_level_and_the_margin_the_tests_use():
    assert stats.LEVEL == 0.05 and stats.MARGIN == 1.0
    assert "one-sided at 5%" in stats.RULE and "within ±1 point (TOST)" in stats.RULE
    assert "fewer than 2 seeds" in stats.RULE


@pytest.mark.parametrize("p,words", [(0.002, "p = 0.002"), (0.001, "p = 0.001"), (0.0009, "p < 0.001"),
                                     (0.0504, "p = 0.050")])
def test_a_p_value_is_written_to_three_decimals_or_as_below_0_001(p, words):
    assert stats.p_words(p) == words


# "a is higher than b": Welch's one-sided test, both ways.

def test_higher_holds_with_the_p_value_of_welchs_one_sided_test():
    verdict, p = stats.higher(HIGH, LOW)
    assert verdict == HOLDS
    assert p == pytest.approx(ttest_ind(HIGH, LOW, equal_var=False, alternative="greater").pvalue)


def test_higher_does_not_hold_when_the_opposite_test_says_so_and_gives_that_p():
    verdict, p = stats.higher(LOW, HIGH)
    assert verdict == FAILS
    assert p == pytest.approx(ttest_ind(LOW, HIGH, equal_var=False, alternative="less").pvalue)


def test_two_seeds_each_are_enough_to_decide_and_one_is_not():
    assert stats.higher([74.0, 74.2], [69.0, 69.2])[0] == HOLDS
    assert stats.higher([74.0, 74.2], [69.0]) == (UNSURE, None)
    assert stats.higher([74.0], [69.0, 69.2]) == (UNSURE, None)
    assert stats.positive([0.5, 0.6])[0] == HOLDS and stats.positive([0.5]) == (UNSURE, None)
    assert stats.similar([70.0, 70.1], [70.0]) == (UNSURE, None)


def test_the_level_is_the_line_between_holds_and_cannot_tell():
    p = ttest_ind(HIGH, LOW, equal_var=False, alternative="greater").pvalue
    assert stats.higher(HIGH, LOW, level=p * 1.01)[0] == HOLDS
    assert stats.higher(HIGH, LOW, level=p * 0.99)[0] == UNSURE
    opposite = ttest_ind(LOW, HIGH, equal_var=False, alternative="less").pvalue
    assert stats.higher(LOW, HIGH, level=opposite * 0.99) == (UNSURE, pytest.approx(1 - opposite))


def test_a_p_value_equal_to_the_level_is_not_below_it():
    p = ttest_ind(HIGH, LOW, equal_var=False, alternative="greater").pvalue
    assert stats.higher(HIGH, LOW, level=p)[0] == UNSURE
    opposite = ttest_ind(LOW, HIGH, equal_var=False, alternative="less").pvalue
    assert stats.higher(LOW, HIGH, level=opposite)[0] == UNSURE
    rises = [0.9, 1.2, 1.1]
    assert stats.positive(rises, level=ttest_1samp(rises, 0.0, alternative="greater").pvalue)[0] == UNSURE
    a, b = [70.4, 70.9, 70.6, 70.5], [70.5, 70.7, 70.6, 70.8]
    assert stats.similar(a, b, level=stats.similar(a, b)[1])[0] == UNSURE
    far_a, far_b = [71.4, 71.6, 71.5], [69.3, 69.5, 69.4]
    assert stats.similar(far_a, far_b, level=stats.similar(far_a, far_b)[1])[0] == UNSURE


def test_welchs_test_not_students_unequal_spreads_and_sizes():
    """Welch's degrees of freedom differ from Student's where the seeds' spreads and numbers
    differ: each p-value behind a verdict is Welch's."""
    a, b = [70.0, 70.1, 70.2, 70.1, 70.0], [69.0, 71.5, 70.4]
    for alternative in ("greater", "less"):
        welch = ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue
        assert welch != pytest.approx(ttest_ind(a, b, equal_var=True, alternative=alternative).pvalue)
    up = ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
    assert stats.higher(a, b, level=1.0)[1] == pytest.approx(up)
    down = ttest_ind(a, b, equal_var=False, alternative="less").pvalue
    assert stats.higher(a, b, level=1e-9) == (UNSURE, pytest.approx(up))
    assert stats.higher(b, a, level=1.0)[1] == pytest.approx(down)
    # the two one-sided tests of "differ little", each Welch's, and the two of "differ a lot"
    for margin in (0.3, 0.5, 2.0):
        shifted_up = ttest_ind([x + margin for x in a], b, equal_var=False, alternative="greater").pvalue
        shifted_down = ttest_ind([x - margin for x in a], b, equal_var=False, alternative="less").pvalue
        verdict, p = stats.similar(a, b, margin=margin, level=1.0)
        assert verdict == HOLDS and p == pytest.approx(max(shifted_up, shifted_down))
        outside = min(ttest_ind([x - margin for x in a], b, equal_var=False, alternative="greater").pvalue,
                      ttest_ind([x + margin for x in a], b, equal_var=False, alternative="less").pvalue)
        level = max(shifted_up, shifted_down) / 2
        verdict, p = stats.similar(a, b, margin=margin, level=level)
        if outside < level:
            assert (verdict, p) == (FAILS, pytest.approx(outside))
        else:
            assert (verdict, p) == (UNSURE, pytest.approx(max(shifted_up, shifted_down)))


def test_two_seeds_decide_differ_little_too():
    assert stats.similar([70.0, 70.1], [70.05, 70.1])[0] == HOLDS
    assert stats.similar([75.0, 75.1], [70.0, 70.1])[0] == FAILS


def test_equal_values_have_no_spread_to_judge():
    assert stats.higher([70.0, 70.0], [70.0, 70.0]) == (UNSURE, None)
    assert stats.positive([0.0, 0.0, 0.0]) == (UNSURE, None)


# "a and b differ little": two one-sided tests within the margin.

def test_similar_holds_when_both_one_sided_tests_put_the_difference_inside_the_margin():
    a, b = [70.4, 70.9, 70.6, 70.5], [70.5, 70.7, 70.6, 70.8]
    verdict, p = stats.similar(a, b)
    above = ttest_ind([x + 1 for x in a], b, equal_var=False, alternative="greater").pvalue
    below = ttest_ind([x - 1 for x in a], b, equal_var=False, alternative="less").pvalue
    assert verdict == HOLDS and p == pytest.approx(max(above, below))


def test_similar_fails_when_the_difference_is_significantly_outside_the_margin_either_way():
    a, b = [71.4, 71.6, 71.5], [69.3, 69.5, 69.4]
    verdict, p = stats.similar(a, b)
    assert verdict == FAILS
    assert p == pytest.approx(ttest_ind([x - 1 for x in a], b, equal_var=False, alternative="greater").pvalue)
    assert stats.similar(b, a)[0] == FAILS


def test_the_margin_decides_what_differs_little():
    a, b = [71.4, 71.6, 71.5], [69.3, 69.5, 69.4]  # 2.1 points apart
    assert stats.similar(a, b, margin=3.0)[0] == HOLDS
    assert stats.similar(a, b, margin=1.0)[0] == FAILS


def test_similar_cannot_tell_a_wide_spread():
    a, b = [60.0, 80.0, 70.0], [66.0, 76.0, 71.0]
    verdict, p = stats.similar(a, b)
    assert verdict == UNSURE and p is not None and p > stats.LEVEL


# A run's own change: the one-sample test.

def test_positive_uses_the_one_sample_test_both_ways():
    rises = [0.9, 1.2, 1.1]
    verdict, p = stats.positive(rises)
    assert verdict == HOLDS and p == pytest.approx(ttest_1samp(rises, 0.0, alternative="greater").pvalue)
    verdict, p = stats.positive([-x for x in rises])
    assert verdict == FAILS and p == pytest.approx(ttest_1samp(rises, 0.0, alternative="greater").pvalue)
    assert stats.positive([0.5, -0.6, 0.2])[0] == UNSURE


@pytest.mark.parametrize("verdicts,combined", [
    ([HOLDS, HOLDS], HOLDS), ([HOLDS, FAILS], FAILS), ([UNSURE, FAILS], FAILS), ([HOLDS, UNSURE], UNSURE),
    ([UNSURE, UNSURE], UNSURE),
])
def test_claims_that_must_all_hold(verdicts, combined):
    assert stats.all_of([(v, 0.01) for v in verdicts]) == combined


# The spread over seeds.

def test_the_spread_of_several_seeds():
    spread = Spread([69.4, 70.1, 69.8])
    assert spread.n == 3 and spread.low == 69.4 and spread.high == 70.1
    assert spread.mean == pytest.approx(69.766667) and spread.std == pytest.approx(0.351188, abs=1e-6)
    assert spread.words("%") == "69.77% (69.40 to 70.10, 3 seeds)"


def test_two_seeds_have_a_spread():
    assert Spread([70.0, 71.0]).words("%") == "70.50% (70.00 to 71.00, 2 seeds)"


def test_one_seed_has_no_spread():
    one = Spread([70.0])
    assert one.std is None and one.words("%") == "70.00% (1 seed)"
    assert one.words(single="(one seed so far)") == "70.00 (one seed so far)"


# Which reading the report's numbers fit.

def test_the_pooled_std_weighs_each_sample_by_its_degrees_of_freedom():
    a, b = [1.0, 2.0, 3.0], [10.0, 14.0]
    expected = math.sqrt((2 * 1.0 + 1 * 8.0) / 3)
    assert readings.pooled_std(a, b) == pytest.approx(expected)
    assert readings.pooled_std([1.0], [2.0]) is None
    assert readings.pooled_std([1.0, 3.0], []) == pytest.approx(math.sqrt(2.0))


def test_distances_are_in_pooled_stds_from_each_readings_mean():
    away = readings.distances(70.0, {"package": [69.0, 70.0, 71.0], "sheet": [72.0, 73.0, 74.0]})
    assert away == {"package": pytest.approx(0.0), "sheet": pytest.approx(3.0)}
    assert readings.distances(70.0, {"package": [69.0], "sheet": [71.0]}) == {}


def test_the_fit_measures_distance_and_calls_nothing_within_noise():
    """The readings' table keeps its pooled-std distance, but agreement is the grading rule's alone."""
    assert readings.distance_words(2.0) == "2.0" and readings.distance_words(5.46) == "5.5"
    assert "within" not in readings.FIT_RULE and "noise" not in readings.FIT_RULE
    assert readings._closer_words("sheet") == "sheet" and readings._closer_words(None) == "-"


def test_a_tie_as_shown_names_neither_reading():
    assert readings.nearer({"package": 0.71, "sheet": 0.69}) == readings.TIE  # both shown 0.7
    assert readings.nearer({"package": 0.76, "sheet": 0.69}) == "sheet"
    assert readings.nearer({"package": 1.9, "sheet": 3.9}) == "package"


# The one rule for the report's value against this package's seeds: a prediction interval.

def test_the_interval_is_students_t_for_one_more_run():
    """At 3 seeds the 95% interval for one more run is the mean ± 4.97 sample stds (t with 2 degrees
    of freedom at 0.975, times sqrt(1 + 1/3)); at 2 seeds ± 15.56; it narrows towards ± 1.96."""
    assert stats.interval_factor(3) == pytest.approx(4.968, abs=1e-3)
    assert stats.interval_factor(2) == pytest.approx(15.56, abs=1e-2)
    assert stats.interval_factor(1000) == pytest.approx(1.963, abs=1e-3)
    found = stats.agreement(70.0, [69.0, 70.0, 71.0])
    assert found.low == pytest.approx(70 - 4.968, abs=1e-3)
    assert found.high == pytest.approx(70 + 4.968, abs=1e-3)


@pytest.mark.parametrize("value, verdict", [
    (70.0 + 1.95, stats.WITHIN),            # within mean ± 1.96 s
    (70.0 + 1.97, "cannot tell at 3 seeds"),  # inside the interval, outside ± 1.96 s
    (70.0 + 4.96, "cannot tell at 3 seeds"),
    (70.0 + 4.98, "package lower"),          # outside: the package's mean is below the report's value
    (70.0 - 4.98, "package higher"),
])
def test_the_verdict_at_each_edge_of_the_interval(value, verdict):
    assert stats.agreement(value, [69.0, 70.0, 71.0]).verdict == verdict


def test_cannot_tell_says_how_many_seeds_would_tell_if_the_spread_held():
    found = stats.agreement(72.5, [69.0, 70.0, 71.0])  # 2.5 s away
    n = found.seeds_to_tell
    assert stats.interval_factor(n) < 2.5 <= stats.interval_factor(n - 1) and n == 9
    assert found.words() == ("cannot tell at 3 seeds (95% interval 65.03 to 74.97; 9 seeds would tell if the "
                             "spread held)")
    assert stats.agreement(75.0, [69.0, 70.0, 71.0]).words() == (
        "package lower (report outside the 95% interval 65.03 to 74.97)")
    assert stats.agreement(70.0, [70.0]) is None and stats.agreement(70.0, [70.0, 70.0]) is None


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_a_run_of_the_package_itself_falls_outside_the_interval_5_times_in_100(n):
    """The rule's stated coverage, by simulation: n seeds and one more run, all normal; the rule
    calls the last one inside (within seed noise, or cannot tell) 95 times in 100, within a point."""
    import numpy as np
    draws = np.random.default_rng(n).standard_normal((20000, n + 1))
    inside = np.mean([stats.agreement(row[-1], row[:-1].tolist()).inside for row in draws])
    assert abs(inside - stats.COVERAGE) < 0.01


def test_the_docs_state_the_rate_for_a_heavier_tailed_spread():
    """docs/seeds-and-readings.md says what the coverage becomes when runs spread with heavier tails
    (Student's t with 3 degrees of freedom) at 3 seeds; the number there is this simulation's."""
    import re

    import numpy as np
    draws = np.random.default_rng(3).standard_t(3, (20000, 4))
    outside = 100 * (1 - np.mean([stats.agreement(row[-1], row[:-1].tolist()).inside for row in draws]))
    docs = (Path(__file__).resolve().parent.parent / "docs" / "seeds-and-readings.md").read_text()
    stated = re.search(r"heavier tails.*?falls outside about (\d+(?:\.\d)?) times in 100", docs, re.S)
    assert stated and abs(float(stated.group(1)) - outside) < 1.0
    # and the old rule's rate it replaces: within 2 sample stds at 3 seeds
    from scipy.stats import t
    two_sds = 100 * (2 * t.cdf(2 / math.sqrt(1 + 1 / 3), 2) - 1)
    stated_two_sds = re.search(r"where 2 would hold only about (\d+) runs in 100", docs.replace("\n", " "))
    assert stated_two_sds.group(1) == f"{two_sds:.0f}"


# Which runs count as a run's seeds.

def _record(folder, script, runs, quick=False):
    folder.mkdir(parents=True, exist_ok=True)
    record = {"quick": quick, "config": {}, "env": {}, **(runs if script == "q1_3_train" else {"runs": runs})}
    (folder / f"{script}.json").write_text(json.dumps(record))


def _run(settings, seed, test=70.0, **extra):
    return {"train_config": as_dict(TrainConfig(**settings, seed=seed)), "final_test_acc": test,
            "history": {"epoch": [1], "val_loss": [1.0], "val_acc": [60.0], "seconds": [1.0]}, **extra}


def test_a_runs_seeds_are_its_folder_and_the_seed_folders_that_trained_its_settings(tmp_path):
    _record(tmp_path, "q1_3_train", _run(BASELINE, 0, 69.4))
    _record(tmp_path / "seeds" / "baseline_seed2", "q1_3_train", _run(BASELINE, 2, 70.2))
    _record(tmp_path / "seeds" / "baseline_seed1", "q1_3_train", _run(BASELINE, 1, 68.8))
    _record(tmp_path / "seeds" / "baseline_lr", "q1_3_train", _run(dict(BASELINE, lr=0.1), 3, 10.0))
    _record(tmp_path / "seeds" / "baseline_quick", "q1_3_train", _run(BASELINE, 4, 30.0), quick=True)
    found = Results(tmp_path).seed_runs["baseline"]
    assert [(each.seed, each.run["final_test_acc"]) for each in found] == [(0, 69.4), (1, 68.8), (2, 70.2)]
    assert [each.folder.name for each in found] == [tmp_path.name, "baseline_seed1", "baseline_seed2"]
    assert Results(tmp_path).seed_runs["student"] == []


def test_a_record_that_names_no_seed_is_seed_0(tmp_path):
    run = _run(BASELINE, 0, 69.4)
    del run["train_config"]["seed"]  # trained before the package recorded it
    _record(tmp_path, "q1_3_train", run)
    _record(tmp_path / "seeds" / "baseline_seed1", "q1_3_train", _run(BASELINE, 1, 68.8))
    assert [each.seed for each in Results(tmp_path).seed_runs["baseline"]] == [0, 1]
    sweep = {"quick": False, "best_dropout": 0.5, "runs": {"0.5": _run(dict(BASELINE, dropout=0.5), 0)},
             "predictions": {"test_set": {"normalized": {"accuracy": 74.0}, "raw": {"accuracy": 27.0}}}}
    del sweep["runs"]["0.5"]["train_config"]["seed"]
    (tmp_path / "q1_3_dropout.json").write_text(json.dumps(sweep))
    assert Results(tmp_path).fed_both_ways() == [FedBothWays(seed=0, normalized=74.0, raw=27.0)]


def test_a_seed_found_twice_counts_once_the_folders_own_first(tmp_path):
    _record(tmp_path, "q1_3_train", _run(BASELINE, 0, 69.4))
    _record(tmp_path / "seeds" / "again", "q1_3_train", _run(BASELINE, 0, 99.0))
    assert [each.run["final_test_acc"] for each in Results(tmp_path).seed_runs["baseline"]] == [69.4]


def test_a_folder_of_the_sheets_runs_is_read_with_the_sheets_settings(tmp_path):
    sheet = tmp_path / "sheet"
    _record(sheet, "q1_3_improve", {"student": _run(dict(STUDENT, **READINGS["sheet"]), 0, 78.9)})
    _record(sheet / "seeds" / "student_seed1", "q1_3_improve",
            {"student": _run(dict(STUDENT, **READINGS["sheet"]), 1, 78.5)})
    _record(sheet / "seeds" / "student_pkg", "q1_3_improve", {"student": _run(STUDENT, 2, 77.0)})
    assert Results(sheet).settings == READINGS["sheet"]
    assert [each.seed for each in Results(sheet).seed_runs["student"]] == [0, 1]
    assert Results(tmp_path).settings == {}
    assert Results(tmp_path).reading("sheet").settings == READINGS["sheet"]


def test_the_whole_test_set_accuracies_come_from_the_records_that_made_1_3_6_with_p_0_5(tmp_path):
    def sweep(folder, seed, best, normalized, raw):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "q1_3_dropout.json").write_text(json.dumps({
            "quick": False, "best_dropout": best,
            "runs": {"0.5": _run(dict(BASELINE, dropout=0.5), seed)},
            "predictions": {"test_set": {"normalized": {"accuracy": normalized}, "raw": {"accuracy": raw}}}}))
    sweep(tmp_path, 0, 0.5, 74.4, 26.7)
    sweep(tmp_path / "seeds" / "dropout0.5_seed1", 1, 0.5, 74.3, 30.1)
    sweep(tmp_path / "seeds" / "dropout0.5_seed2", 2, 0.2, 75.0, 31.0)  # its 1.3.6 used another p
    assert Results(tmp_path).fed_both_ways() == [FedBothWays(0, normalized=74.4, raw=26.7),
                                                 FedBothWays(1, normalized=74.3, raw=30.1)]


def test_a_damaged_record_is_named_with_the_command_that_remakes_it(tmp_path):
    (tmp_path / "q1_3_train.json").write_text('{"history": ')
    (tmp_path / "q1_3_dropout.json").write_text(json.dumps({"runs": {}}))
    assert Results(tmp_path).damaged() == [damaged_words(tmp_path, "q1_3_train")]
    words = damaged_words(tmp_path, "q1_3_train")
    assert f"{tmp_path / 'q1_3_train.json'} is damaged" in words
    assert f"its results are missing from {tmp_path / 'REPORT.md'}" in words
    assert f"`python q1_3_train.py --out {tmp_path}`" in words


# The data: 1.1.3's statistics and 1.1.4's split.

def test_mean_and_std_are_per_channel_population_statistics_on_the_0_1_scale():
    images = torch.zeros(2, 3, 2, 2, dtype=torch.uint8)
    images[0, 0] = 255  # red: half the pixels 1.0, half 0.0
    images[:, 1] = 51  # green: all 0.2
    images[1, 2, 0, 0] = 255  # blue: one pixel of 8 is 1.0
    mean, std = mean_and_std(images)
    assert mean.dtype == torch.float64
    assert mean.tolist() == pytest.approx([0.5, 0.2, 1 / 8])
    assert std.tolist() == pytest.approx([0.5, 0.0, math.sqrt(1 / 8 * 7 / 8)])


def test_float_images_are_taken_as_they_are():
    images = torch.tensor([0.0, 2.0]).view(2, 1, 1, 1).expand(2, 3, 1, 1)
    mean, std = mean_and_std(images)
    assert mean.tolist() == [1.0, 1.0, 1.0] and std.tolist() == [1.0, 1.0, 1.0]


def test_the_random_split_is_seeded_disjoint_and_whole():
    train, val = split_indices(100, 10, seed=0)
    again, _ = split_indices(100, 10, seed=0)
    other, _ = split_indices(100, 10, seed=1)
    assert len(train) == 90 and len(val) == 10
    assert sorted(train.tolist() + val.tolist()) == list(range(100))
    assert torch.equal(train, again) and not torch.equal(train, other)
    assert val.tolist() != list(range(90, 100))


def test_the_sheets_split_holds_out_the_last_images():
    train, val = split_indices(100, 10, seed=3, how="last")
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))


@pytest.mark.parametrize("n_val", [0, 100, 101, -1])
def test_a_split_that_leaves_no_training_or_no_validation_image_is_refused(n_val):
    with pytest.raises(UsageError, match=f"--val-size {n_val} leaves no training images out of 100"):
        split_indices(100, n_val, seed=0)


def test_the_smallest_splits_are_allowed():
    assert [len(x) for x in split_indices(100, 1, seed=0)] == [99, 1]
    assert [len(x) for x in split_indices(100, 99, seed=0)] == [1, 99]


# The verdicts of a made-up results folder with both readings, by value: every verdict, fit and
# panel follows from the runs below.

# {run: [(final test accuracy, last validation loss) per seed]} under each reading; the
# validation loss is lowest (1.0) at epoch 2 of 3, so the last minus 1.0 is its rise.
MADE_UP = {
    "package": {"baseline": [(69.4, 1.50), (69.9, 1.62), (69.6, 1.55)],
                "dropout 0.2": [(71.5, 1.20), (72.1, 1.26), (71.9, 1.22)],
                "dropout 0.5": [(74.3, 1.00), (74.6, 1.01), (75.3, 1.00)],
                "dropout 0.8": [(64.6, 1.00), (64.4, 1.00), (65.0, 1.00)],
                "student": [(78.6, 1.10), (76.9, 1.12), (78.2, 1.08)]},
    "sheet": {"baseline": [(70.4, 1.40), (70.9, 1.45), (70.6, 1.43)],
              "dropout 0.2": [(70.5, 1.30), (70.7, 1.28), (70.6, 1.35)],
              "dropout 0.5": [(70.8, 1.00), (70.2, 1.02), (71.4, 1.01)],
              "dropout 0.8": [(56.2, 1.00), (53.6, 1.00), (57.9, 1.00)],
              "student": [(78.9, 1.05), (78.5, 1.07), (79.3, 1.04)]},
}
FED = {"package": [(74.3, 26.7), (74.6, 30.1), (75.3, 32.3)],
       "sheet": [(70.8, 75.0), (70.2, 76.0), (71.4, 77.5)]}  # raw above normalized: the claim fails


def made_up_results(out):
    from common.config import REPORT_RUNS, reading_folder, seed_folder_name
    for reading, runs in MADE_UP.items():
        top = reading_folder(out, reading)
        for name, per_seed in runs.items():
            report_run = REPORT_RUNS[name]
            for seed, (test, last_loss) in enumerate(per_seed):
                folder = top if seed == 0 else top / "seeds" / f"{seed_folder_name(name)}_seed{seed}"
                cfg = as_dict(TrainConfig(**report_run.settings, **READINGS[reading], seed=seed))
                run = {"train_config": cfg, "final_test_acc": test, "final_val_acc": test + 0.5,
                       "best_val_acc": test + 1.0, "best_val_epoch": 3, "recipe": report_run.record_key,
                       "history": {"epoch": [1, 2, 3], "val_loss": [1.2, 1.0, last_loss],
                                   "val_acc": [50.0, 60.0, test + 0.5], "seconds": [60.0] * 3},
                       "test_confusion": [[90 if i == j else 1 + seed * (i == 3 and j == 5)
                                           for j in range(10)] for i in range(10)]}
                path = folder / f"{report_run.script}.json"
                record = json.loads(path.read_text()) if path.is_file() else {
                    "quick": False, "config": {}, "env": {}, "figures": []}
                if report_run.script == "q1_3_train":
                    record.update(run)
                else:
                    record.setdefault("runs", {})[report_run.record_key] = run
                if name == "dropout 0.5":
                    normalized, raw = FED[reading][seed]
                    whole = {"normalized": {"accuracy": normalized}, "raw": {"accuracy": raw}}
                    record.update(best_dropout=0.5, predictions={"test_set": whole})
                folder.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(record))


def test_each_run_fits_the_reading_whose_mean_is_nearer_in_pooled_standard_deviations(tmp_path):
    """fits(), recomputed here: the distance of each reading's mean from the report's value over the
    pooled sample standard deviation of both readings' seeds, the nearer reading, and overall the
    one with the smaller root-mean-square distance."""
    from common.config import REPORT_RUNS
    made_up_results(tmp_path)
    rows, overall, rms = readings.fits(tmp_path)
    assert [fit.run for fit in rows] == list(REPORT_RUNS)
    for fit in rows:
        samples = {reading: [test for test, _ in MADE_UP[reading][fit.run]] for reading in READINGS}
        pooled = math.sqrt(sum(statistics.variance(s) for s in samples.values()) / len(samples))  # equal n
        expected = {reading: abs(statistics.mean(s) - REPORT_RUNS[fit.run].report_acc) / pooled
                    for reading, s in samples.items()}
        assert fit.distances == pytest.approx(expected), fit.run
        assert fit.closer == min(expected, key=expected.get), fit.run
    assert [fit.closer for fit in rows] == ["sheet", "sheet", "package", "package", "sheet"]
    squares = {reading: [fit.distances[reading] ** 2 for fit in rows] for reading in READINGS}
    assert rms == pytest.approx({reading: math.sqrt(statistics.mean(d)) for reading, d in squares.items()})
    assert overall == "package" and rms["package"] < rms["sheet"]


def test_the_claims_apart_between_the_readings_are_those_whose_verdicts_differ(tmp_path):
    made_up_results(tmp_path)
    apart = readings.claims_apart(tmp_path)
    assert [(each.package.short, each.package.verdict, each.sheet.verdict) for each in apart] == [
        ("p = 0.2 changes little", FAILS, HOLDS), ("p = 0.5 is the best p", HOLDS, UNSURE),
        ("normalized inputs beat raw ones", HOLDS, FAILS)]
    assert [each.told_under_both() for each in apart] == [True, False, True]


def test_each_confusion_panel_sums_the_counts_of_its_runs_seeds(tmp_path):
    from common.reporting.claims import confusion_runs
    made_up_results(tmp_path)
    found, missing = confusion_runs(tmp_path)
    assert [(panel.run, panel.seeds) for panel in found] == [
        ("1.3.4 baseline", [0, 1, 2]), ("1.3.5 dropout p = 0.5 (the best by validation)", [0, 1, 2]),
        ("1.3.7 student's recipe", [0, 1, 2])]
    # each seed's counts: 90 right and 1 wrong a cell, seed N adding N cats taken for dogs
    assert all(panel.counts[3][5] == 3 * 1 + (0 + 1 + 2) and sum(map(sum, panel.counts)) == 3 * 990 + 3
               for panel in found)
    assert found[0].right() == pytest.approx(100 * 2700 / 2973)
    assert missing == ["1.3.7 this package's best recipe"]


def test_the_made_up_runs_give_each_verdict_the_pages_show(tmp_path):
    """The made-up runs' verdicts: under the package's reading six claims hold and one
    (p = 0.2 changes little) does not; under the sheet's, p = 0.2 does change little, p = 0.5
    is not told apart from p = 0.2, and the raw feed beats the normalized one."""
    from common.reporting.claims import claims as verdicts
    made_up_results(tmp_path)
    package = [c.verdict for c in verdicts(tmp_path)]
    sheet = [c.verdict for c in verdicts(Results(tmp_path).reading("sheet"))]
    assert package == [HOLDS, FAILS, HOLDS, HOLDS, HOLDS, HOLDS, HOLDS]
    assert sheet == [HOLDS, HOLDS, HOLDS, UNSURE, HOLDS, FAILS, HOLDS]


def sparse_results(out):
    """A folder part-way through its runs: the baseline one seed (seed 1 kept its confusion
    counts, seed 0 none), dropout 0.2 and 0.5 two seeds each with 0.2 the best by validation,
    no dropout 0.8, no student, no 1.3.6 on the whole test set, a smoke run that must not count,
    and the sheet's reading only begun."""
    def write(folder, script, key, settings, seed, test, quick=False, **extra):
        cfg = as_dict(TrainConfig(**settings, seed=seed))
        history = {"epoch": [1, 2], "val_loss": [1.1, 1.0], "val_acc": [50.0, test], "seconds": [30.0, 30.0]}
        run = {"train_config": cfg, "final_test_acc": test, "final_val_acc": test - 0.5, "best_val_acc": test,
               "best_val_epoch": 2, "history": history, **extra}
        path = folder / f"{script}.json"
        record = (json.loads(path.read_text()) if path.is_file()
                  else {"quick": quick, "config": {}, "env": {}, "figures": []})
        if script == "q1_3_train":
            record.update(run)
        else:
            record.setdefault("runs", {})[key] = run
            record["best_dropout"] = 0.2
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record))
    counts = [[80 if i == j else 2 + (j == 9) for j in range(10)] for i in range(10)]
    write(out, "q1_3_train", "baseline", BASELINE, 0, 69.4)
    write(out / "seeds" / "baseline_seed1", "q1_3_train", "baseline", dict(BASELINE, lr=0.05), 1, 12.0,
          test_confusion=counts)  # other settings: not a seed of the baseline
    write(out / "seeds" / "baseline_quick", "q1_3_train", "baseline", BASELINE, 2, 30.0, quick=True)
    sheet = dict(READINGS["sheet"])
    write(out / "sheet", "q1_3_train", "baseline", dict(BASELINE, **sheet), 0, 70.1)
    for seed, test in enumerate([70.3, 70.9]):
        folder = out / "sheet" if seed == 0 else out / "sheet" / "seeds" / f"dropout0.2_seed{seed}"
        write(folder, "q1_3_dropout", "0.2", dict(BASELINE, dropout=0.2, **sheet), seed, test)
    for seed, (p2, p5) in enumerate([(72.0, 71.0), (72.4, 71.2)]):
        folder = out if seed == 0 else out / "seeds" / f"sweep_seed{seed}"
        write(folder, "q1_3_dropout", "0.2", dict(BASELINE, dropout=0.2), seed, p2,
              **({"test_confusion": counts} if seed else {}))
        write(folder, "q1_3_dropout", "0.5", dict(BASELINE, dropout=0.5), seed, p5)


def test_a_folder_part_way_through_counts_only_what_it_has(tmp_path):
    """Only full runs of the report's settings count as seeds (not the smoke run, not the lr 0.05
    run); with one seed or none a claim cannot be told, but two seeds of p = 0.2 above two of
    p = 0.5 already say p = 0.5 is not the best; one run with two seeds under both readings decides
    which reading fits; a panel sums only the seeds that kept counts."""
    from common.reporting.claims import claims, confusion_runs
    sparse_results(tmp_path)
    results = Results(tmp_path)
    assert {name: [each.seed for each in runs] for name, runs in results.seed_runs.items()} == {
        "baseline": [0], "dropout 0.2": [0, 1], "dropout 0.5": [0, 1], "dropout 0.8": [], "student": []}
    verdicts = {claim.short: claim.verdict for claim in claims(results)}
    assert verdicts.pop("p = 0.5 is the best p") == FAILS
    assert set(verdicts.values()) == {UNSURE}
    assert {claim.verdict for claim in claims(results.reading("sheet"))} == {UNSURE}
    rows, overall, _ = readings.fits(results)
    assert [fit.run for fit in rows if fit.closer] == ["dropout 0.2"] and overall == "sheet"
    found, missing = confusion_runs(results)
    assert [(panel.run, panel.seeds) for panel in found] == [
        ("1.3.5 dropout p = 0.2 (the best by validation)", [1])]
    assert missing == ["1.3.4 baseline", "1.3.7 student's recipe", "1.3.7 this package's best recipe"]


def test_the_sections_say_each_gap_of_a_folder_part_way_through_in_words(tmp_path):
    """The renderers' words where a folder lacks something (their values are asserted above): one
    seed (no plural, no mean, no interval), no run yet, no 1.3.6 on the whole test set, no p-value,
    no distance; no committed page has these gaps, so they are stated here."""
    from common.reporting import claims as claim_section
    sparse_results(tmp_path)
    seeds_and_claims = claim_section.section(tmp_path)
    one_seed = "| 1.3.4 baseline | 0 | 69.40 | 69.40 | - | 69.40 | 69.40 | 70.42 | one seed: no spread | - |"
    assert one_seed in seeds_and_claims
    assert "| 1.3.5 dropout p = 0.8 | none yet | - | - | - | - | - | 66.72 | - | - |" in seeds_and_claims
    said = "\n".join(seeds_and_claims)
    assert ("Verdict: **cannot tell at this number of seeds**. 1.3.5 dropout p = 0.2, final test "
            "accuracy (%) over seeds 0, 1: 72.00, 72.40 (mean 72.20); 1.3.4 baseline, final test accuracy "
            "(%) over seed 0: 69.40.") in said
    assert "1.3.5 dropout p = 0.8: no full run yet; 1.3.5 dropout p = 0.8: no full run yet." in said
    assert "accuracy on the whole test set by seed: (none yet)." in said
    assert ("Not yet recorded by any run: 1.3.4 baseline, 1.3.7 student's recipe, 1.3.7 this package's best "
            "recipe.") in claim_section.confusion_section(tmp_path)[2]
    two_readings = readings.section(tmp_path)
    assert "| 1.3.4 baseline | 70.42 | 69.40 (1 seed) | 70.10 (1 seed) | - | - | - |" in two_readings
    one_reading = ("| 1.3.5 dropout p = 0.5 | 74.04 | 71.10 (71.00 to 71.20, 2 seeds) | none yet | 20.8 | - "
                   "| - |")
    assert one_reading in two_readings
    unsure = "cannot tell at this number of seeds"
    assert f"| 1.3.5 | p = 0.5 is the best p | does not hold | {unsure} | not yet |" in two_readings


def test_the_readings_say_which_verdicts_agree_and_which_reading_fits_in_one_sentence(tmp_path):
    made_up_results(tmp_path)
    two_readings = readings.section(tmp_path)
    opposite = "| 1.3.5 | p = 0.2 changes little | does not hold (p = 0.003) | holds (p = 0.006) | **no** |"
    same = ("| 1.3.4 | the validation loss rises (over-fitting) | holds (p = 0.002) | holds (p < 0.001) "
            "| yes |")
    assert opposite in two_readings and same in two_readings
    assert readings.fit_sentence(tmp_path) == (
        "Where the report is silent (where dropout sits, how many validation images): the report's "
        "numbers fit this package's reading better (root-mean-square distance 3.1 under this package's "
        "reading against 4.2 under the course sheet's reading, in pooled seed standard deviations, over all "
        "5 runs); 2 of the claims' verdicts are opposite between them (p = 0.2 changes little: does not hold "
        "against holds; normalized inputs beat raw ones: holds against does not hold), and 1 told under one "
        "reading only (p = 0.5 is the best p: holds under this package's reading, cannot tell at this number "
        "of seeds under the course sheet's reading).")


@pytest.mark.parametrize("first_higher", [True, False])
def test_each_of_the_four_one_sided_tests_of_differ_little_is_welchs(first_higher):
    """Whichever of the two tests of "within the margin" and of "outside it" decides, its
    p-value is Welch's: the runs in both orders, of unequal sizes and spreads."""
    wide, tight = [69.0, 71.5, 70.4], [70.0, 70.1, 70.2, 70.1, 70.0]
    a, b = (wide, tight) if first_higher else (tight, wide)

    def welch(x, y, alternative):
        return ttest_ind(x, y, equal_var=False, alternative=alternative).pvalue

    for margin in (0.3, 1.0, 2.5):
        inside = max(welch([x + margin for x in a], b, "greater"), welch([x - margin for x in a], b, "less"))
        assert stats.similar(a, b, margin=margin, level=1.0) == (HOLDS, pytest.approx(inside))
    far = [x + 6.0 for x in a] if first_higher else [x - 6.0 for x in a]
    outside = min(welch([x - 1.0 for x in far], b, "greater"), welch([x + 1.0 for x in far], b, "less"))
    assert stats.similar(far, b) == (FAILS, pytest.approx(outside))


def test_a_smoke_runs_seeds_are_found_among_smoke_runs_only(tmp_path):
    _record(tmp_path, "q1_3_train", _run(BASELINE, 0, 30.0), quick=True)
    _record(tmp_path / "seeds" / "baseline_seed1", "q1_3_train", _run(BASELINE, 1, 31.0), quick=True)
    _record(tmp_path / "seeds" / "baseline_seed2", "q1_3_train", _run(BASELINE, 2, 69.0))
    results = Results(tmp_path)
    found = results.same_but_seed("q1_3_train", "baseline", TrainConfig(**BASELINE), quick=True)
    assert sorted(found) == [0, 1]
    assert sorted(results.same_but_seed("q1_3_train", "baseline", TrainConfig(**BASELINE))) == [2]


def test_seeds_without_a_seed_0_leave_its_cell_empty(tmp_path):
    from common.reporting.claims import seed_spreads, spread_table
    for seed, test in ((1, 68.8), (2, 70.2)):
        _record(tmp_path / "seeds" / f"baseline_seed{seed}", "q1_3_train", _run(BASELINE, seed, test))
    baseline = seed_spreads(tmp_path)[0]
    assert (baseline.run, baseline.seeds, baseline.seed0) == ("baseline", [1, 2], None)
    assert baseline.spread.mean == pytest.approx(69.5)
    assert "| 1.3.4 baseline | 1, 2 | - | 69.50 |" in "\n".join(spread_table(tmp_path))  # "-" for no seed 0


def test_a_sweeps_best_p_outside_the_reports_three_has_no_confusion_panel(tmp_path):
    from common.reporting.claims import confusion_runs
    counts = [[9 if i == j else 1 for j in range(10)] for i in range(10)]
    _record(tmp_path, "q1_3_dropout", {"0.3": _run(dict(BASELINE, dropout=0.3), 0, test_confusion=counts)})
    record = json.loads((tmp_path / "q1_3_dropout.json").read_text())
    (tmp_path / "q1_3_dropout.json").write_text(json.dumps({**record, "best_dropout": 0.3}))
    found, missing = confusion_runs(tmp_path)
    assert found == [] and "1.3.5 dropout p = 0.3 (the best by validation)" in missing


def test_which_reading_fits_cannot_be_told_before_two_seeds_of_a_run_under_both(tmp_path):
    _record(tmp_path, "q1_3_train", _run(BASELINE, 0, 69.4))
    _record(tmp_path / "seeds" / "baseline_seed1", "q1_3_train", _run(BASELINE, 1, 69.9))
    _record(tmp_path / "sheet", "q1_3_train", _run(dict(BASELINE, **READINGS["sheet"]), 0, 70.4))
    assert readings.fit_sentence(tmp_path) == (
        "Where the report is silent (where dropout sits, how many validation images): which reading the "
        "report's numbers fit cannot be told yet (fewer than two seeds of a run under both); no claim's "
        "verdict is opposite between them.")
    assert readings.fit_sentence(tmp_path / "nothing") is None


def committed_pages():
    root = Path(__file__).resolve().parent.parent / "figures"
    return sorted(path.parent for path in root.rglob("REPORT.md"))


@pytest.mark.parametrize("folder", committed_pages(), ids=lambda p: p.name)
def test_every_committed_value_verdict_is_the_prediction_interval_recomputed_from_the_seeds(folder):
    """Each committed folder's value verdicts (its grading rows, which its REPORT.md shows: the page
    equals its rebuild, tests/test_report.py), against the 95% prediction interval for one more run
    computed here from the seeds' values with scipy alone: the interval and which side of it the
    report's value lies on."""
    from scipy.stats import t

    from common.reporting.grading import rows
    page = (folder / "REPORT.md").read_text()
    if "## Grading table" not in page:  # a folder of one run's variants (bf16/, a seed's): no verdicts
        assert "95% interval" not in page and "seed noise" not in page
        return
    judged = [row for row in rows(folder) if len(row.values) >= 2]
    assert judged
    for row in judged:
        n, mean = len(row.values), sum(row.values) / len(row.values)
        s = math.sqrt(sum((v - mean) ** 2 for v in row.values) / (n - 1))
        half = t.ppf(0.975, n - 1) * s * math.sqrt(1 + 1 / n)
        found = stats.agreement(row.report_value, row.values)
        assert (found.low, found.high) == (pytest.approx(mean - half), pytest.approx(mean + half)), row.what
        assert (not found.inside) == (abs(row.report_value - mean) > half), row.what
        assert (found.verdict == stats.WITHIN) == (abs(row.report_value - mean) <= 1.96 * s), row.what
        assert row.verdict == found.words()


# The rule's edges, exactly: three seeds -1, 0, 1 have mean 0.0 and sample std 1.0 in floating point.
UNIT = [-1.0, 0.0, 1.0]


def test_a_value_exactly_on_the_interval_or_the_noise_line_is_inside():
    found = stats.agreement(0.0, UNIT)
    for edge in (found.high, found.low):
        assert stats.agreement(edge, UNIT).verdict == "cannot tell at 3 seeds"
    z = stats._normal_quantile()
    assert stats.agreement(z, UNIT).verdict == stats.agreement(-z, UNIT).verdict == stats.WITHIN


def test_the_seeds_that_would_tell_are_the_first_whose_interval_excludes_the_value():
    """The first n whose interval's half-width is strictly below the gap; a gap equal to one n's
    half-width needs the next n; none within most_seeds gives None."""
    exactly_six = stats.interval_factor(6)
    assert stats.agreement(exactly_six, UNIT).seeds_to_tell == 7
    assert stats.agreement(exactly_six + 1e-9, UNIT).seeds_to_tell == 6
    assert stats.agreement(exactly_six + 1e-9, UNIT, most_seeds=6).seeds_to_tell == 6
    assert stats.agreement(exactly_six + 1e-9, UNIT, most_seeds=5).seeds_to_tell is None
    # By default up to 1,000 seeds: a gap that needs 1,001 gets none.
    beyond = (stats.interval_factor(1000) + stats.interval_factor(1001)) / 2
    assert stats.agreement(beyond, UNIT).seeds_to_tell is None


def test_the_coverage_is_a_setting_of_the_rule():
    """At 90% the interval is mean ± t(0.95, n - 1) sqrt(1 + 1/n) s: 3.372 s at 3 seeds."""
    from scipy.stats import t
    assert stats.interval_factor(3, 0.90) == pytest.approx(t.ppf(0.95, 2) * math.sqrt(4 / 3))
    found = stats.agreement(3.0, UNIT, coverage=0.90)
    assert found.high == pytest.approx(stats.interval_factor(3, 0.90))
    assert found.verdict == "cannot tell at 3 seeds"
    assert found.seeds_to_tell == next(n for n in range(4, 100) if stats.interval_factor(n, 0.90) < 3.0)
    assert stats.agreement(3.4, UNIT, coverage=0.90).verdict == "package lower"


def test_the_agreement_keeps_the_seeds_spread_for_every_verdict():
    for value in (0.5, 2.5, 6.0):  # within, cannot tell, outside
        assert stats.agreement(value, UNIT).spread == Spread(UNIT)


def test_the_rule_states_the_interval_at_three_seeds():
    assert "at 3 seeds the mean ± 4.97 s" in stats.agreement_rule() and "± 1.96 s" in stats.agreement_rule()
