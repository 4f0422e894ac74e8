"""Which of the report's claims hold: the verdict rule on made-up seeds, and the claims and
spreads in REPORT.md following the JSON (change a number, the verdict follows)."""
import json

import pytest

from common.reporting import claims, stats
from common.reporting.folder import Results
from common.config import BASELINE, STUDENT, TrainConfig, as_dict
from common.reporting.page import build_report
from common.reporting.stats import FAILS, HOLDS, UNSURE


# The rule, on made-up per-seed accuracies.

def test_a_clear_effect_holds():
    assert stats.higher([74.1, 74.6, 74.3], [69.2, 69.8, 69.5])[0] == HOLDS


def test_a_reversed_effect_does_not_hold():
    assert stats.higher([64.5, 64.9, 64.2], [74.1, 74.6, 74.3])[0] == FAILS


def test_no_effect_cannot_be_told_higher_but_holds_as_similar():
    a, b = [70.4, 70.9, 70.6, 70.5], [70.5, 70.7, 70.6, 70.8]
    assert stats.higher(a, b)[0] == UNSURE
    assert stats.similar(a, b)[0] == HOLDS


def test_a_spread_too_wide_cannot_tell_either_way():
    a, b = [60.0, 80.0, 70.0], [66.0, 76.0, 71.0]
    assert stats.higher(a, b)[0] == UNSURE and stats.similar(a, b)[0] == UNSURE


def test_a_clear_difference_is_not_similar():
    assert stats.similar([71.4, 71.6, 71.5], [69.3, 69.5, 69.4])[0] == FAILS


def test_one_seed_cannot_tell():
    assert stats.higher([80.0], [70.0]) == (UNSURE, None) and stats.positive([0.9]) == (UNSURE, None)


def test_the_spread_gives_the_mean_and_the_sample_std():
    spread = stats.Spread([69.4, 70.1, 69.8])
    assert spread.mean == pytest.approx(69.7667, abs=1e-4) and spread.std == pytest.approx(0.3512, abs=1e-4)


# The claims section, from made-up records.

def _run(settings, seed, test, val_loss_end=1.5):
    cfg = as_dict(TrainConfig(**settings, seed=seed))
    history = {
        "epoch": [1, 2, 3],
        "val_loss": [1.2, 1.0, val_loss_end],
        "val_acc": [60, 65, test],
        "train_loss": [1.5, 1.0, 0.5],
        "train_acc": [50, 70, 90],
        "lr": [0.001] * 3,
        "seconds": [60] * 3,
    }
    return {"history": history, "train_config": cfg, "final_test_acc": test, "final_val_acc": test + 0.5,
            "best_val_acc": test + 1, "best_val_epoch": 3}


def _write(folder, name, record):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"quick": False, "config": {}, "env": {}, "figures": [],
                                                     **record}))


def _made_up_results(out, student_tests=(79.9, 80.2, 80.1), baseline_tests=(69.4, 69.9, 69.6)):
    for seed, (student, baseline) in enumerate(zip(student_tests, baseline_tests)):
        folder = out if seed == 0 else out / "seeds" / f"baseline_seed{seed}"
        _write(folder, "q1_3_train", _run(BASELINE, seed, baseline))
        folder = out if seed == 0 else out / "seeds" / f"student_seed{seed}"
        _write(
            folder,
            "q1_3_improve",
            {"runs": {"student": {**_run(STUDENT, seed, student), "recipe": "student"}}},
        )


def _verdict(out, question, words):
    return next(c.verdict for c in claims.claims(out) if c.question == question and c.words.startswith(words))


def test_the_student_claim_follows_the_json(tmp_path):
    _made_up_results(tmp_path)
    assert _verdict(tmp_path, "1.3.7", "I have achieved") == HOLDS
    report = build_report(tmp_path)
    assert "## The report's claims" in report and "Verdict: **holds**" in report
    student = next(row for row in claims.seed_spreads(tmp_path) if row.run == "student")
    assert (student.seeds, student.seed0, student.report) == ([0, 1, 2], 79.9, 80.15)
    assert student.spread.mean == pytest.approx(80.0667, abs=1e-4)
    assert student.spread.std == pytest.approx(0.1528, abs=1e-4)
    assert (student.spread.low, student.spread.high) == (79.9, 80.2)
    assert (round(student.agreement.low, 2), round(student.agreement.high, 2)) == (79.31, 80.83)
    assert student.agreement.verdict == stats.WITHIN

    _made_up_results(tmp_path, student_tests=(65.0, 66.0, 65.5))  # the student now below the baseline
    assert _verdict(tmp_path, "1.3.7", "I have achieved") == FAILS
    assert (
        "| 1.3.7 student recipe | 0, 1, 2 | 65.00 | 65.50 | 0.50 | 65.00 | 66.00 | 80.15 | 63.02 to 67.98 | "
        "package lower |"
        in build_report(tmp_path)
    )


def test_a_run_with_other_settings_is_not_a_seed(tmp_path):
    _made_up_results(tmp_path)
    other = _run(dict(BASELINE, lr=0.01), 3, 99.0)
    _write(tmp_path / "seeds" / "baseline_lr_seed3", "q1_3_train", other)
    assert [each.seed for each in Results(tmp_path).seed_runs["baseline"]] == [0, 1, 2]


def test_the_best_recipe_over_seeds_is_one_list_for_readme_and_confusion_figure(tmp_path):
    from common.config import RECIPES
    from common.reporting.readme import results_table
    def counts(wrong):  # 100 images a class, `wrong` of each taken for the next class
        return [[100 - wrong if i == j else wrong if j == (i + 1) % 10 else 0 for j in range(10)]
                for i in range(10)]

    kept = {1: counts(10), 2: counts(30)}
    for seed, test in ((0, 90.2), (1, 89.9), (2, 90.1)):
        folder = tmp_path if seed == 0 else tmp_path / "ablation" / f"best_seed{seed}"
        run = {
            **_run(RECIPES["best"], seed, test),
            "recipe": "best",
            **({"test_confusion": kept[seed]} if seed else {}),
        }
        _write(folder, "q1_3_improve", {"runs": {"best": run}})
    _write(tmp_path / "ablation" / "best_lr", "q1_3_improve",  # another setting: not a seed
           {"runs": {"best": _run(dict(RECIPES["best"], lr=0.5), 3, 10.0)}})
    assert [each.seed for each in Results(tmp_path).best_recipe_seeds] == [0, 1, 2]
    assert "| 90.20% | 90.07% (89.90 to 90.20, 3 seeds) |" in "\n".join(results_table(tmp_path))
    found, missing = claims.confusion_runs(tmp_path)  # seed 0 kept no counts: seeds 1 and 2, summed
    assert [(panel.run, panel.seeds) for panel in found] == [("1.3.7 this package's best recipe", [1, 2])]
    assert found[0].right() == 80.0
    summed = found[0].counts
    assert summed[0][0] == 90 + 70 and summed[0][1] == 10 + 30 and sum(map(sum, summed)) == 2000
    assert "1.3.4 baseline" in missing and "1.3.7 student's recipe" in missing


def test_overfitting_claim_reads_each_seeds_validation_loss(tmp_path):
    _made_up_results(tmp_path)
    assert _verdict(tmp_path, "1.3.4", "The loss shows") == HOLDS
    for seed in (1, 2):  # the validation loss now ends at its lowest in two seeds of three
        path = tmp_path / "seeds" / f"baseline_seed{seed}" / "q1_3_train.json"
        record = json.loads(path.read_text())
        record["history"]["val_loss"][-1] = 0.9
        path.write_text(json.dumps(record))
    assert _verdict(tmp_path, "1.3.4", "The loss shows") == UNSURE


def test_a_quick_record_is_never_a_seed(tmp_path):
    _made_up_results(tmp_path)
    path = tmp_path / "seeds" / "baseline_seed2" / "q1_3_train.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "quick": True}))
    assert [each.seed for each in Results(tmp_path).seed_runs["baseline"]] == [0, 1]


def test_everything_prints_every_seed_run_as_one_command():
    import subprocess
    import sys
    from conftest import REPO
    result = subprocess.run([sys.executable, "-m", "common.everything", "--print", "--seeds", "0", "1", "2",
                             "--skip-checksum"], cwd=REPO, capture_output=True, text=True, timeout=120)
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 6 + 5 + 5
    assert lines[2] == "python q1_3_train.py --out figures --skip-checksum"
    assert "python q1_3_dropout.py --dropouts 0.5 --seed 2 --out figures/seeds/dropout0.5_seed2 --resume " \
           "--skip-checksum" in lines
    assert sum("--seed 1 " in line for line in lines) == 5


# Where the report is silent: the same claims under the course sheet's reading, and which
# reading the report's numbers fit, from made-up records of both readings.

def _made_up_reading(out, reading, tests):
    """tests: {run: [final test per seed]}; each run written where that reading's runs go."""
    from common.config import READINGS, reading_folder
    from common.config import REPORT_RUNS
    folder = reading_folder(out, reading)
    for name, values in tests.items():
        settings = {**REPORT_RUNS[name].settings, **READINGS[reading]}
        for seed, test in enumerate(values):
            where = folder if seed == 0 else folder / "seeds" / f"{name.replace(' ', '')}_seed{seed}"
            run = _run(settings, seed, test)
            if name == "baseline":
                _write(where, "q1_3_train", run)
            elif name == "student":
                _write(where, "q1_3_improve", {"runs": {"student": {**run, "recipe": "student"}}})
            else:
                p = name.split()[1]
                path = where / "q1_3_dropout.json"
                earlier = json.loads(path.read_text())["runs"] if path.is_file() else {}
                _write(where, "q1_3_dropout", {"runs": {**earlier, p: run}, "best_dropout": 0.5})


# The report: baseline 70.42, p = 0.2 70.69, 0.5 74.04, 0.8 66.72, student 80.15.
NEAR_THE_REPORT = {"baseline": [70.3, 70.6, 70.5], "dropout 0.2": [70.6, 70.8, 70.7],
                   "dropout 0.5": [74.0, 74.2, 73.9], "dropout 0.8": [66.6, 66.9, 66.7],
                   "student": [80.0, 80.3, 80.2]}
FAR_FROM_IT = {"baseline": [69.4, 69.7, 69.5], "dropout 0.2": [73.0, 73.3, 73.1],
               "dropout 0.5": [72.1, 72.4, 72.2], "dropout 0.8": [55.0, 54.7, 54.9],
               "student": [78.0, 78.2, 77.9]}


def test_the_reading_whose_means_lie_nearer_the_report_fits_it(tmp_path):
    from common.reporting import readings
    _made_up_reading(tmp_path, "package", FAR_FROM_IT)
    _made_up_reading(tmp_path, "sheet", NEAR_THE_REPORT)
    rows, overall, rms = readings.fits(tmp_path)
    assert overall == "sheet" and rms["sheet"] < rms["package"]
    assert all(closer == "sheet" for *_, closer in rows)
    # Swap the readings' numbers: the verdict follows.
    _made_up_reading(tmp_path, "package", NEAR_THE_REPORT)
    _made_up_reading(tmp_path, "sheet", FAR_FROM_IT)
    rows, overall, _ = readings.fits(tmp_path)
    assert overall == "package" and all(closer == "package" for *_, closer in rows)
    assert "fit this package's reading better" in readings.fit_sentence(tmp_path)
    assert "over all 5 runs" in readings.fit_sentence(tmp_path)


def test_a_run_whose_readings_lie_equally_near_names_neither(tmp_path):
    from common.reporting import readings
    # p = 0.5: 74.20 and 74.23 against the report's 74.04, distances 0.6 and 0.7 pooled stds.
    _made_up_reading(tmp_path, "package", {"dropout 0.5": [74.0, 74.4, 74.2]})
    _made_up_reading(tmp_path, "sheet", {"dropout 0.5": [73.9, 74.3, 74.5]})
    fit = next(fit for fit in readings.fits(tmp_path)[0] if fit.run == "dropout 0.5")
    assert {reading: round(d, 1) for reading, d in fit.distances.items()} == {"package": 0.6, "sheet": 0.7}
    assert fit.closer == "package"
    # The sheet's seeds moved to the same distance on the other side: a tie, no winner named.
    _made_up_reading(tmp_path, "sheet", {"dropout 0.5": [73.68, 74.08, 73.88]})
    fit = next(fit for fit in readings.fits(tmp_path)[0] if fit.run == "dropout 0.5")
    assert {reading: round(d, 1) for reading, d in fit.distances.items()} == {"package": 0.8, "sheet": 0.8}
    assert fit.closer == readings.TIE


def test_the_fit_says_how_many_runs_it_rests_on(tmp_path):
    from common.reporting import readings
    # Only p = 0.2 has two seeds under the sheet's reading: it alone decides, and the section says so.
    _made_up_reading(tmp_path, "package", FAR_FROM_IT)
    _made_up_reading(tmp_path, "sheet", {"baseline": [70.3], "dropout 0.2": [70.6, 70.8]})
    rows, overall, rms = readings.fits(tmp_path)
    assert [name for name, *_, closer in rows if closer] == ["dropout 0.2"] and overall == "sheet"
    sentence = readings.fit_sentence(tmp_path)
    assert "over the 1 of 5 runs with two seeds or more under both readings" in sentence
    assert any("over the 1 of 5 runs" in line for line in readings.section(tmp_path))


def test_the_distance_is_in_pooled_seed_standard_deviations(tmp_path):
    from common.reporting import readings
    # Both readings with a standard deviation of 0.5 (and means 1 and 2 points above the report).
    report = 70.42
    samples = {
        "package": [report + 0.5, report + 1.0, report + 1.5],
        "sheet": [report + 1.5, report + 2.0, report + 2.5],
    }
    away = readings.distances(report, samples)
    assert away["package"] == pytest.approx(2.0) and away["sheet"] == pytest.approx(4.0)
    assert readings.distances(report, {"package": [71.0], "sheet": [72.0]}) == {}  # no spread: no unit


def test_a_claim_can_hold_under_one_reading_and_fail_under_the_other(tmp_path):
    from common.reporting import readings
    from common.reporting.page import build_report
    _made_up_reading(tmp_path, "package", NEAR_THE_REPORT)  # p = 0.5 best
    _made_up_reading(tmp_path, "sheet", FAR_FROM_IT)  # p = 0.2 beats p = 0.5
    package = {c.short: c.verdict for c in claims.claims(tmp_path)}
    sheet = {
        c.short: c.verdict
        for c in claims.claims(
            Results(tmp_path / "sheet",
                    {"dropout_after": "pools_and_fc", "val_split": "last", "val_size": 1000})
        )
    }
    assert package["p = 0.5 is the best p"] == HOLDS and sheet["p = 0.5 is the best p"] == FAILS
    report = build_report(tmp_path)
    assert "## Where the report is silent: two readings" in report
    apart = {each.package.short: each for each in readings.claims_apart(tmp_path)}
    assert apart["p = 0.5 is the best p"].told_under_both()
    assert "p = 0.5 is the best p: holds against does not hold" in readings.fit_sentence(tmp_path)
    # The sheet's runs are not seeds of the package's, nor the other way round.
    assert [each.seed for each in Results(tmp_path).seed_runs["baseline"]] == [0, 1, 2]
    assert Results(tmp_path).seed_runs["baseline"][0].run["final_test_acc"] == NEAR_THE_REPORT["baseline"][0]


def test_without_the_sheets_runs_there_is_no_section(tmp_path):
    from common.reporting import readings
    _made_up_reading(tmp_path, "package", NEAR_THE_REPORT)
    assert readings.section(tmp_path) == [] and readings.fit_sentence(tmp_path) is None


def test_readings_that_fit_equally_overall_are_said_to(tmp_path):
    from common.reporting import readings
    _made_up_reading(tmp_path, "package", {"dropout 0.5": [74.0, 74.4, 74.2]})
    _made_up_reading(tmp_path, "sheet", {"dropout 0.5": [73.68, 74.08, 73.88]})
    assert ("Overall the report's numbers fit both readings equally: root-mean-square distance 0.80 under "
            "package, 0.80 under sheet, over the 1 of 5 runs with two seeds or more under both readings."
            ) in readings.section(tmp_path)


def test_claims_told_under_one_reading_only_are_listed_apart(tmp_path):
    from common.reporting import readings
    _made_up_reading(tmp_path, "package", NEAR_THE_REPORT)
    _made_up_reading(tmp_path, "sheet", {name: values[:1] for name, values in NEAR_THE_REPORT.items()})
    apart = readings.claims_apart(tmp_path)
    assert len(apart) >= 2 and not any(each.told_under_both() for each in apart)
    assert all(each.sheet.verdict == UNSURE and each.package.verdict != UNSURE for each in apart)
    told = readings.told_under_one_reading(tmp_path)
    assert f"told under one reading only ({'; '.join(told)})" in readings.fit_sentence(tmp_path)
