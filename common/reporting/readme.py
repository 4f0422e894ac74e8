"""The blocks of README.md and docs/recipe.md that come from the JSON files, each between
two markers and rebuilt by `python -m common.report`: no number there is typed by hand. A
row measured before is never turned into "not run yet": a block that would lose one is
left as it was."""
import json
from pathlib import Path

from ..config import EVERYTHING, READINGS, RECIPES, REPO, TrainConfig, as_flags, differences
from ..files import locked, write_text
from ..results import ablation_runs, read_record, runs_of
from . import grading
from .claims import claims
from .readings import reading_runs, summary
from .seeds import best_recipe_seeds
from .stats import FAILS, HOLDS, Spread
from .timing import NOT_RUN, times_table



def markers(name):
    return f"<!-- {name}: built by python -m common.report; do not edit -->", f"<!-- end {name} -->"


def _accuracy(value):
    return NOT_RUN if value is None else f"{value:.2f}%"


def results_table(out):
    """The headline numbers, REPORT.md's grading rows of the final test accuracies and the ten
    images: the report's, this package's seed 0 and the spread over the seeds run so far; then
    this package's best recipe."""
    out = Path(out)
    lines = [
        "| question | the report | this package, seed 0 | this package over seeds: mean (lowest to highest) "
        "|",
        "|---|---:|---:|---|",
    ]
    for row in grading.rows(out):
        ten_images = row.section == "predictions" and row.report != "claimed"
        if row.what.endswith("final test accuracy") or ten_images:
            lines.append(f"| {row.question} {row.what} | {row.report} | {row.seed0} | {row.over_seeds} |")
    best = [run["final_test_acc"] for _, run in best_recipe_seeds(out)]
    lines.append(f"| 1.3.7 this package's best recipe (beyond the report), final test accuracy | - | "
                 f"{_accuracy(best[0] if best else None)} | "
                 f"{Spread(best).words('%', single='(one seed so far)') if best else '-'} |")
    return lines


def verdict_line(out):
    """How many of the report's claims hold, from REPORT.md's claims section."""
    verdicts = [claim.verdict for claim in claims(out)]
    held, failed = verdicts.count(HOLDS), verdicts.count(FAILS)
    unsure = len(verdicts) - held - failed
    return [
        f"Of the report's {len(verdicts)} claims, {held} {'holds' if held == 1 else 'hold'} beyond seed "
        "noise, "
        f"{failed} {'does' if failed == 1 else 'do'} not, and {unsure} cannot be told at the seeds run so "
        "far (Welch's t-test at 5%; each "
        f'claim with its numbers in `figures/REPORT.md`, "The report\'s claims").'
    ]


def ablation_commands(out):
    """The command of every run under out/ablation/, by recipe, from the run's own saved
    settings against its recipe as the code defines it now."""
    out = Path(out)
    lines = []
    for recipe in ("best", "bn_onecycle"):  # the recipes REPORT.md's ablation tables cover
        commands = [
            "    "
            + " ".join(
                [
                    "python q1_3_improve.py --recipe",
                    recipe,
                    *as_flags(differences(run["train_config"], TrainConfig(**RECIPES[recipe]))),
                    "--out",
                    f"{out.name}/ablation/{name}",
                ]
            )
            for name, _, run in ablation_runs(out, recipe)
        ]
        if commands:
            lines += [f"The {recipe} recipe's runs ({len(commands)}):", ""] + commands + [""]
    return lines


def readings_line(out):
    """Which reading of what the report leaves open its numbers fit; nothing before the sheet's runs."""
    line = summary(out)
    return ["", line + " Details in `figures/REPORT.md`, \"Where the report is silent\"."] if line else []


def _hours(runs):
    return sum(sum(run["history"].get("seconds") or [0]) for run in runs) / 3600


def cost_line(out):
    """What the whole report costs in CPU time, from the runs' own epoch times."""
    out = Path(out)
    seed0 = [run for script, *args in EVERYTHING
             for key, run in runs_of(read_record(out / f"{script}.json", quick=False) or {}).items()
             if not args or key == args[-1]]
    seeded = [run for reading in READINGS for runs in reading_runs(out, reading).values()
              for seed, run, _, _ in runs if seed != 0 or reading != "package"]
    if not seed0:
        return []
    return [f"Training every question once (`python -m common.everything`, seed 0) took {_hours(seed0):.1f} "
            f"hours of training as measured, one run at a time on 1-2 CPU threads; the other seeds and the "
            f"sheet's reading behind the verdicts took {_hours(seeded):.1f} hours more ({len(seeded)} runs)."]


def mutation_line(out):
    """What the mutation check last scored, from the file .ci/mutation writes."""
    path = REPO / "tests" / "mutation" / "score.json"
    if not path.is_file():
        return ["The mutation check has not been run yet (`bash .ci/mutation`)."]
    score = json.loads(path.read_text())
    return [f"Last run: {score['killed']} of {score['mutants']} mutants killed "
            f"({100 * score['killed_share']:.1f}%), "
            f"{score['survived']} survived (each explained in `tests/mutation/survivors.md`), "
            f"{score['no_tests']} reached by no test."]


BLOCKS = {"results": lambda out: results_table(out) + [""] + verdict_line(out) + readings_line(out),
          "times": times_table, "ablations": ablation_commands, "cost": cost_line,
          "mutation": mutation_line}


def refresh(path, out):
    """Rebuild every block that path holds from out's JSON; returns the names of the rows
    a block would have lost (that block is then left as it was)."""
    text = Path(path).read_text()
    lost = []
    for name, build in BLOCKS.items():
        begin, end = markers(name)
        if begin not in text:
            continue
        start, stop = text.index(begin) + len(begin), text.index(end)
        rows = build(out)
        before = {
            line.split(" | ")[0]: line for line in text[start:stop].splitlines() if line.startswith("| ")
        }
        gone = [row.split(" | ")[0].removeprefix("| ") for row in rows
                if NOT_RUN in row and NOT_RUN not in before.get(row.split(" | ")[0], NOT_RUN)]
        if gone:
            lost += gone
            continue
        text = text[:start] + "\n" + "\n".join(rows) + "\n" + text[stop:]
    with locked(Path(path).parent):
        write_text(path, text)
    return lost


def refresh_all(out):
    """README.md and docs/recipe.md from out (figures/); returns the rows kept from loss."""
    return [row for path in (REPO / "README.md", REPO / "docs" / "recipe.md") if path.is_file()
            for row in refresh(path, out)]
