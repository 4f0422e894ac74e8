"""figures/REPORT.md: built from whichever JSON files exist, each number beside the report's."""
import json
from pathlib import Path
import re
from dataclasses import asdict

import pytest

from common.reporting.page import build_report, write_report
from common.config import BEST, BN_ONECYCLE, RECIPES, STUDENT, TrainConfig, as_words
from common.reporting.ablation import ablation_rows, seed_groups


def history(n):
    return {"epoch": list(range(1, n + 1)), "train_loss": [1.0 / e for e in range(1, n + 1)],
            "train_acc": [50.0 + e for e in range(n)], "val_loss": [1.0, 0.8, 0.9][:n] + [1.2] * (n - 3),
            "val_acc": [60.0 + e for e in range(n)]}


def run(test_acc, n=4):
    return {"history": history(n), "steps": [], "best_val_acc": 63.0, "best_val_epoch": n,
            "final_val_acc": 63.0, "final_test_acc": test_acc, "best_model_test_acc": test_acc,
            "epoch_seconds": 40.0, "train_config": {"epochs": n, "lr": 0.001}}


def common(quick=False, figures=()):
    return {
        "config": {},
        "env": {"python": "3.11", "torch": "2.14.1", "device": "cpu"},
        "quick": quick,
        "seconds": 12.0,
        "figures": list(figures),
        "data": {"dir": "d", "checksum_verified": False, "n_train": 45000, "n_val": 5000, "n_test": 10000},
    }


def write(out, name, record):
    (out / f"{name}.json").write_text(json.dumps(record))
    for figure in record["figures"]:
        (out / figure).write_bytes(b"png")


def test_missing_results_say_which_command_makes_them(tmp_path):
    text = build_report(tmp_path)
    for command in ("python q1_1_data.py", "python q1_2_model.py", "python q1_3_train.py",
                    "python q1_3_dropout.py", "python q1_3_improve.py"):
        assert f"Run `{command}" in text
    assert "## 1.4 Written answers" in text


def test_baseline_numbers_stand_beside_the_reports_with_the_difference(tmp_path):
    write(tmp_path, "q1_3_train", {**common(figures=["q1_3_4_loss.png", "q1_3_4_accuracy.png"]),
                                   **run(71.5)})
    text = build_report(tmp_path)
    # The report's column shows the report's own words: 70.42%, epoch 17.
    assert "| final test accuracy (%) | 71.50 | 70.42% | +1.08 |" in text
    assert "| epoch of the best validation accuracy | 4 | 17 | -13 |" in text
    assert "![q1_3_4_loss.png](q1_3_4_loss.png)" in text
    assert "checksum not verified" in text and "QUICK" not in text
    assert "rises" in text and "over-fitting" in text


def test_quick_results_are_marked(tmp_path):
    write(tmp_path, "q1_3_train", {**common(quick=True), **run(20.0, n=1)})
    assert "QUICK smoke run" in build_report(tmp_path)


def test_every_linked_figure_exists(tmp_path):
    write(tmp_path, "q1_3_train", {**common(figures=["q1_3_4_loss.png", "q1_3_4_accuracy.png"]), **run(70.0)})
    runs = {p: {**run(70.0), "figures": [f"q1_3_5_dropout_{p}_loss.png"]} for p in ("0.2", "0.5", "0.8")}
    pred = {"indices": list(range(10)), "true": [0] * 10,
            "raw": {"probs": [[0.1] * 10] * 10, "pred": [0] * 10, "accuracy": 100.0},
            "normalized": {"probs": [[0.1] * 10] * 10, "pred": [0] * 10, "accuracy": 100.0}}
    figures = [f"q1_3_5_dropout_{p}_loss.png" for p in runs] + [
        "q1_3_5_dropout_comparison.png", "q1_3_6_predictions_raw.png", "q1_3_6_predictions_normalized.png",
        "q1_3_6_probabilities.md"]
    write(tmp_path, "q1_3_dropout", {**common(figures=figures), "runs": runs, "best_dropout": 0.5,
                                     "predictions": pred})
    write(tmp_path, "q1_3_improve", {**common(figures=["q1_3_7_student_loss.png"]),
                                     "runs": {"student": {"recipe": "student", **run(80.0)}}})
    path = write_report(tmp_path)
    text = path.read_text()
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert len(links) >= 10
    for link in links:
        assert (tmp_path / link).exists(), link
    assert "| quantity | p = 0.2 | p = 0.5 | p = 0.8 |" in text  # one table, a column per p
    assert "### student recipe" in text and "--recipe best" not in text  # only the runs it holds


def test_the_grading_table_opens_the_page_and_each_row_links_to_a_section_there():
    from common.config import REPO
    from common.reporting.grading import anchor
    text = (REPO / "figures" / "REPORT.md").read_text()
    lines = text.splitlines()
    summary = lines.index("## Reproducibility summary")
    start = lines.index("## Grading table") + 2
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    table = lines[start + 2:end]
    assert summary < 10 and start - summary <= 15  # the summary in at most 15 lines, then the table
    assert start < 50 and len(table) >= 20 and len(lines) <= 320
    targets = {anchor(line.lstrip("# ")) for line in lines if line.startswith("## ")}
    linked = re.findall(r"\]\((#[^)]+)\)", "\n".join(lines[:end]))
    assert len(linked) >= len(table) and set(linked) <= targets, set(linked) - targets


def test_broken_json_is_reported_not_fatal(tmp_path):
    (tmp_path / "q1_3_train.json").write_text("{not json")
    assert "q1_3_train.json is damaged" in build_report(tmp_path)


def test_ablation_runs_form_one_table(tmp_path):
    folder = tmp_path / "ablation" / "no_augment_4ep"
    folder.mkdir(parents=True)
    recipe = asdict(TrainConfig(**BEST))
    best = {**run(85.0), "train_config": {**recipe, "epochs": 4, "augment": False},
            "history": {**history(4), "seconds": [50.0] * 4}}
    write(
        folder, "q1_3_improve", {**common(), "runs": {"best": best}, "flags": ["--epochs 4", "--no-augment"]}
    )
    def table():
        return [(row.name, as_words(row.changes), row.run["train_config"]["epochs"],
                 row.run["final_test_acc"])
                for row in ablation_rows(tmp_path, "best")]

    assert table() == [("no_augment_4ep", ["epochs 4", "no augment"], 4, 85.0)]
    row = "| no_augment_4ep | epochs 4, no augment | 4 | 85.00 | - | 63.00 | 50.0 |"  # the row as written
    assert row in build_report(tmp_path)
    full = {**run(88.0), "train_config": recipe, "history": {**history(20), "seconds": [60.0] * 20}}
    write(tmp_path, "q1_3_improve", {**common(), "runs": {"best": full}, "flags": []})
    # The full recipe heads the table, then the shorter runs.
    assert table() == [("the best recipe (above)", [], recipe["epochs"], 88.0),
                       ("no_augment_4ep", ["epochs 4", "no augment"], 4, 85.0)]
    assert seed_groups(ablation_rows(tmp_path, "best")) == []  # one run of the recipe gives no spread
    seed1 = tmp_path / "ablation" / "seed1_20ep"
    seed1.mkdir()
    write(seed1, "q1_3_improve", {**common(), "runs": {"best": {**full, "final_test_acc": 87.0,
                                                               "train_config": {**recipe, "seed": 1}}}})
    assert ("seed1_20ep", ["seed 1"], recipe["epochs"], 87.0) in table()
    [group] = seed_groups(ablation_rows(tmp_path, "best"))
    assert group.changes == [] and [(seed, run["final_test_acc"]) for seed, run in group.seeds] == [(0, 88.0),
                                                                                                   (1, 87.0)]
    assert ("The best recipe over seeds 0, 1: final test 88.00, 87.00% (mean 87.50%, from 87.00% to 88.00%); "
            "best validation 63.00, 63.00% (mean 63.00%, from 63.00% to 63.00%).") in build_report(tmp_path)
    # A shortened recipe's seeds give the spread its ablation rows are read against.
    seed1_4ep = tmp_path / "ablation" / "seed1_4ep"
    seed1_4ep.mkdir()
    write(
        seed1_4ep,
        "q1_3_improve",
        {
            **common(),
            "runs": {
                "best": {
                    **best,
                    "final_test_acc": 84.0,
                    "best_val_acc": 62.0,
                    "train_config": {**best["train_config"], "seed": 1},
                }
            },
        },
    )
    groups = {tuple(as_words(group.changes)): group for group in seed_groups(ablation_rows(tmp_path, "best"))}
    assert [seed for seed, _ in groups[("epochs 4", "no augment")].seeds] == [0, 1]
    assert [run["final_test_acc"] for _, run in groups[("epochs 4", "no augment")].seeds] == [85.0, 84.0]


def test_ablation_rows_name_what_differs_from_their_own_recipe(tmp_path):
    folder = tmp_path / "ablation"
    best, older = asdict(TrainConfig(**BEST)), asdict(TrainConfig(**BN_ONECYCLE))
    runs = {
        "best_no_lookahead_4ep": ("best", {**best, "epochs": 4, "lookahead": False}),
        "no_augment_4ep": ("bn_onecycle", {**older, "epochs": 4, "augment": False, "widths": [32, 64, 128]}),
        "before_tta_shift": ("bn_onecycle", {k: v for k, v in older.items() if k != "tta_shift"}),
    }
    for name, (recipe, config) in runs.items():
        (folder / name).mkdir(parents=True)
        write(folder / name, "q1_3_improve", {**common(), "runs": {recipe: {
            **run(85.0), "train_config": config, "history": {**history(4), "seconds": [50.0] * 4}}}})
    write(tmp_path, "q1_3_improve", {**common(), "runs": {
        recipe: {**run(90.0), "train_config": asdict(TrainConfig(**RECIPES[recipe])),
                 "history": {**history(4), "seconds": [50.0] * 4}} for recipe in ("best", "bn_onecycle")}})
    def changed(recipe):
        return {row.name: as_words(row.changes) for row in ablation_rows(tmp_path, recipe)}

    assert changed("best") == {"the best recipe (above)": [],
                               "best_no_lookahead_4ep": ["epochs 4", "no lookahead"]}
    assert changed("bn_onecycle") == {
        "the bn_onecycle recipe (above)": [],
        "no_augment_4ep": ["epochs 4", "no augment"],  # lists as JSON stores them
        "before_tta_shift": ["no tta_shift"],  # made before tta_shift existed: it had the default
    }


def test_the_report_says_when_each_recipe_first_reaches_the_students_80_3_validation(tmp_path):
    """The mark is the report's validation accuracy of the student's last epoch (80.3%): the
    curves are validation accuracies, so like is held against like."""
    from common.reporting.timing import TARGET, TIME_FIGURE, elapsed_minutes, first_epoch_at
    assert TARGET == 80.3
    crossing = {"val_acc": [70.0, 80.15, 80.3, 85.0], "seconds": [60.0] * 4}
    assert elapsed_minutes(crossing)[first_epoch_at(crossing)] == pytest.approx(3.0)
    assert first_epoch_at({"val_acc": [70.0, 80.0], "seconds": [60.0] * 2}) is None
    student = {**run(78.0), "best_val_acc": 79.0, "train_config": asdict(TrainConfig(**STUDENT)),
               "history": {**history(4), "val_acc": [60.0, 70.0, 78.0, 79.0], "seconds": [300.0] * 4}}
    best = {**run(92.0), "train_config": asdict(TrainConfig(**BEST)),
            "history": {**history(4), "val_acc": [70.0, 81.0, 88.0, 92.0], "seconds": [120.0] * 4}}
    write(tmp_path, "q1_3_improve", {**common(), "runs": {"student": student, "best": best},
                                     "figures": [TIME_FIGURE]})
    # The bench's estimate of whole runs on one CPU: the student 20 min, the best recipe 26 min.
    epochs = TrainConfig(**BEST).epochs
    (tmp_path / "bench_recipes_cpu_avx2.json").write_text(json.dumps({
        "env": {"cpu_capability": "AVX2", "threads": 2, "device": "cpu"}, "config": {},
        "images_per_second": {"student": [500.0], "best": [400.0]},
        "training_seconds": {"student": [1200.0], "best": [26.0 * 60]}}))
    text = build_report(tmp_path)
    assert "- student recipe: never reaches 80.3% validation accuracy in its 4 epochs (best 79.00%)." in text
    at = 2 * 26.0 / epochs
    assert (
        f"- best recipe: first reaches it after epoch 2, at 4.0 training minutes measured; from the bench's "
        f"speeds with AVX2 kernels, 2 threads: {at:.1f} min, {at / 20:.2f} of the student recipe's 20.0 min."
    ) in text
    assert f"![{TIME_FIGURE}]({TIME_FIGURE})" in text


def test_a_difference_lost_in_rounding_reads_plus_zero():
    from common.reporting.page import _row
    assert _row("accuracy (%)", 69.99999994, "normalized_accuracy", 0).endswith("| 70% | +0 |")


def test_readmes_generated_blocks_are_the_ones_the_committed_json_gives():
    """README's results and times and docs/recipe.md's ablation commands are built from
    figures/*.json, never typed by hand."""
    from pathlib import Path
    from common.reporting.readme import BLOCKS, markers
    repo = Path(__file__).resolve().parent.parent
    pages = {"results": "README.md", "times": "README.md", "ablations": "docs/recipe.md", "cost": "README.md",
             "mutation": "README.md"}
    for name, build in BLOCKS.items():
        text = (repo / pages[name]).read_text()
        begin, end = markers(name)
        block = text[text.index(begin) + len(begin):text.index(end)]
        assert block.strip() == "\n".join(build(repo / "figures").lines).strip(), name
    assert "min" in (repo / "README.md").read_text()


COMMITTED = Path(__file__).resolve().parent.parent / "figures"
COMMITTED_PAGES = sorted(COMMITTED.glob("**/REPORT.md"))


@pytest.mark.parametrize("page", COMMITTED_PAGES,
                         ids=lambda page: page.parent.relative_to(COMMITTED.parent).as_posix())
def test_every_committed_report_is_the_one_its_json_gives(page):
    """python -m common.report rebuilds each REPORT.md under figures/ unchanged: none is edited by hand.
    The top page and the sheet's hold every section; the mutation check runs those two."""
    assert COMMITTED / "REPORT.md" in COMMITTED_PAGES and COMMITTED / "sheet" / "REPORT.md" in COMMITTED_PAGES
    assert page.read_text() == build_report(page.parent)


def test_a_rebuild_never_turns_a_measured_row_into_not_run_yet(tmp_path):
    from common.reporting.readme import markers, refresh
    page = tmp_path / "README.md"
    begin, end = markers("times")
    measured = "| 1.3.1-1.3.4 baseline | 21 min | cpu |"
    page.write_text(
        f"{begin}\n| question | measured training time | machine |\n|---|---:|---|\n{measured}\n{end}\n"
    )
    assert refresh(page, tmp_path) == ["1.3.1-1.3.4 baseline"]  # its JSON is not in tmp_path
    assert measured in page.read_text()


def test_times_table_estimates_each_question_from_the_measured_speed(tmp_path):
    from common.reporting.timing import times_rows
    write(tmp_path, "q1_3_train", {**common(), **run(70.0, n=2),
                                   "train_config": {"epochs": 2}})
    record = json.loads((tmp_path / "q1_3_train.json").read_text())
    record["history"]["seconds"] = [60.0, 60.0]
    (tmp_path / "q1_3_train.json").write_text(json.dumps(record))
    (tmp_path / "bench_recipes_cpu_avx2.json").write_text(json.dumps(
        {"env": {"cpu_capability": "AVX2", "threads": 2},
         "images_per_second": {"baseline": [750.0], "student": [500.0], "best": [375.0]}}))
    table = times_rows(tmp_path)
    assert [(bench.kernels, bench.threads) for bench in table.benches] == [("AVX2", 2)]
    rows = {row.question: row for row in table.rows}
    baseline, dropout = rows["1.3.1-1.3.4 baseline"], rows["1.3.5-1.3.6 dropout sweep"]
    assert baseline.measured == pytest.approx(2.0)  # 2 x 60 s
    assert baseline.estimates == [pytest.approx(20.0)]  # 20 epochs x 45,000 / 750 s
    assert dropout.measured is None and dropout.estimates == [pytest.approx(60.0)]  # 3 runs x 20 epochs
    assert "from the speed with AVX2 kernels, 2 threads" in table.lines()[0]


def test_gpu_results_stand_beside_the_cpu_ones(tmp_path):
    write(tmp_path, "q1_3_train", {**common(), **run(70.0)})
    (tmp_path / "gpu").mkdir()
    write(tmp_path / "gpu", "q1_3_train", {**common(), **run(70.75)})
    text = build_report(tmp_path)
    assert "## CPU and GPU side by side" in text
    assert "| 1.3.4 baseline | 70.00 | 70.75 | +0.75 |" in text
    assert "## CPU and GPU side by side" not in build_report(tmp_path / "gpu")


def test_every_question_runs_in_order_with_its_time(smoke_run):
    """python -m common.everything: the README's one command for the whole report."""
    out, result = smoke_run.out, smoke_run.result
    record = json.loads((out / "everything.json").read_text())
    assert [t["command"] for t in record["scripts"]] == [
        "q1_1_data.py", "q1_2_model.py", "q1_3_train.py", "q1_3_dropout.py",
        "q1_3_improve.py --recipe student", "q1_3_improve.py --recipe best"]
    for t in record["scripts"]:
        assert f"{t['command']}: {t['seconds']:.1f} s" in result.stdout
    assert "every question:" in result.stdout and (out / "REPORT.md").is_file()


@pytest.mark.parametrize(
    "command",
    [
        ["q1_1_data.py"],
        ["q1_2_model.py"],
        ["q1_3_train.py"],
        ["q1_3_dropout.py"],
        ["q1_3_improve.py"],
        ["-m", "common.everything"],
        ["-m", "common.report"],
        ["-m", "common.bench"],
    ],
)
def test_every_command_answers_help_with_only_its_own_flags(command):
    import subprocess
    import sys
    from conftest import REPO
    result = subprocess.run([sys.executable, *command, "--help"], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage:"), result.stderr
    assert ("--data-dir" in result.stdout) == (command[-1] not in ("q1_2_model.py", "common.report"))
