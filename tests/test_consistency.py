"""Two places that state one fact agree: each kind of contradiction a grader found on the pages
once (a machine and a time said two ways, a median beside a total, README against REPORT.md, a
GPU claimed without a GPU run, ten images that mislead), checked on the committed pages."""
import json
import re

import pytest

from conftest import REPO

FIGURES = REPO / "figures"
GRADED = [FIGURES, FIGURES / "sheet"]


def section(page, heading):
    """The lines of page's section that starts with `## heading`."""
    text = page.split(f"\n## {heading}", 1)[1]
    return text.split("\n## ", 1)[0]


@pytest.mark.parametrize("folder", GRADED, ids=lambda p: p.name)
def test_the_1_3_7_section_says_the_students_own_machine_and_time_once(folder):
    """The section's opening line and its table describe the same run: the student's."""
    part = section((folder / "REPORT.md").read_text(), "1.3.7")
    opening = part.split("\n\n")[1]
    minutes = re.search(r"; ([\d.]+) minutes of training", opening).group(1)
    assert f"| training time, all epochs (minutes) | {minutes} |" in part
    assert "+" not in opening.split("minutes of training")[1].split(";")[0]  # no other recipe's time
    record = json.loads((folder / "q1_3_improve.json").read_text())["runs"]["student"]
    recorded = bool(record.get("env"))
    assert ("Machine not recorded" in opening) == (not recorded) == ("Machine: not recorded" in part)


@pytest.mark.parametrize("folder", GRADED, ids=lambda p: p.name)
def test_a_median_epoch_far_from_the_total_is_explained(folder):
    """Where a table's total training time is not its median epoch times its epochs, the section
    names the slow epochs."""
    page = (folder / "REPORT.md").read_text()
    for part in page.split("\n## ")[1:]:
        median = re.search(r"\| median seconds per epoch \(training and validation\) \| ([\d.]+) \|", part)
        total = re.search(r"\| training time, all epochs \(minutes\) \| ([\d.]+) \|", part)
        epochs = re.search(r"Settings: epochs (\d+)", part)
        if not (median and total and epochs):
            continue
        expected = float(median.group(1)) * int(epochs.group(1)) / 60
        if float(total.group(1)) > 1.15 * expected:
            assert "The median epoch took" in part, part[:60]


def test_readme_and_report_count_the_same_opposite_verdicts_between_readings():
    readme = (REPO / "README.md").read_text()
    said = re.search(r"(no|\d+ of the) claim'?s'? verdicts? (?:is|are) opposite between them", readme)
    table = section((FIGURES / "REPORT.md").read_text(), "Where the report is silent")
    opposite = table.count("| **no** |")
    assert said and (said.group(1) == "no") == (opposite == 0)
    one_sided = re.search(r"and (\d+) told under one reading only", readme)
    unsure = [line for line in table.splitlines() if line.endswith("| not yet |")
              and line.count("cannot tell") == 1]
    assert (int(one_sided.group(1)) if one_sided else 0) == len(unsure)


def test_readme_claims_a_gpu_run_only_where_there_is_one():
    readme = " ".join((REPO / "README.md").read_text().split())
    ran_on_gpu = (FIGURES / "gpu").is_dir()
    assert ("not yet run on a GPU" in readme) == (not ran_on_gpu)


@pytest.mark.parametrize("folder", GRADED, ids=lambda p: p.name)
def test_ten_images_crowded_into_one_class_are_named(folder):
    """When three or more of the ten 1.3.6 images (of more than three classes: fewer are explained
    apart) share a class the raw feed collapses onto, the page says so beside the ten-image accuracies."""
    pred = json.loads((folder / "q1_3_dropout.json").read_text())["predictions"]
    counts = pred["test_set"]["raw"]["predicted_counts"]
    ranked = sorted(range(10), key=lambda c: -counts[c])
    # the classes the raw answers collapse onto: the fewest that take 90% of them, as the page says
    top = next(ranked[:k] for k in range(1, 11) if sum(counts[c] for c in ranked[:k]) >= 0.9 * sum(counts))
    crowded = [c for c in top if pred["true"].count(c) >= 3] if len(set(pred["true"])) > 3 else []
    page = section((folder / "REPORT.md").read_text(), "1.3.6")
    assert ("Of the ten images shown" in page) == bool(crowded)


@pytest.mark.parametrize("folder", GRADED, ids=lambda p: p.name)
def test_the_grading_table_measures_no_gap_in_standard_deviations(folder):
    """One unit per table: the readings' fit counts pooled standard deviations; the grading table
    states a prediction interval in percent, never a count of standard deviations."""
    table = section((folder / "REPORT.md").read_text(), "Grading table")
    assert " sd)" not in table and "95% interval" in table
