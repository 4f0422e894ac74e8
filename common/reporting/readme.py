"""The blocks of README.md and docs/recipe.md that come from the JSON files, each between
two markers and rebuilt by `python -m common.report`: no number there is typed by hand. A
row measured before is never turned into "not run yet": a block that would lose one is
left as it was."""
import json
from pathlib import Path
from typing import NamedTuple

from ..config import ABLATED, COMMANDS, READINGS, RECIPES, REPO, TrainConfig, as_flags, differences
from ..files import locked, write_text
from . import grading
from .claims import claims
from .folder import NOT_RUN, Results
from .readings import fit_sentence
from .stats import FAILS, HOLDS, Spread
from .timing import times_rows


class Block(NamedTuple):
    """A generated block's lines, and for each of its table rows (by the words of its first cell)
    whether it holds a measured number."""

    lines: list
    measured: dict


def markers(name):
    return f"<!-- {name}: built by python -m common.report; do not edit -->", f"<!-- end {name} -->"


def _accuracy(value):
    return NOT_RUN if value is None else f"{value:.2f}%"


def results_rows(out):
    """The headline numbers as a Block: REPORT.md's grading rows of the final test accuracies and
    the ten images (the report's, this package's seed 0 and the spread over the seeds run so far),
    then this package's best recipe."""
    out = Results.of(out)
    lines = [
        "| question | the report | this package, seed 0 | this package over seeds: mean (lowest to highest) "
        "|",
        "|---|---:|---:|---|",
    ]
    measured = {}
    for row in grading.rows(out):
        if (row.kind == "value" and row.field == "final_test_acc") or row.kind == "ten images":
            label = f"{row.question} {row.what_words()}"
            lines.append(f"| {label} | {row.report} | {row.seed0} | {row.over_seeds} |")
            measured[label] = row.over_seeds != NOT_RUN
    best = [each.run["final_test_acc"] for each in out.best_recipe_seeds]
    label = "1.3.7 this package's best recipe (beyond the report), final test accuracy"
    lines.append(f"| {label} | - | {_accuracy(best[0] if best else None)} | "
                 f"{Spread(best).words('%', single='(one seed so far)') if best else '-'} |")
    measured[label] = bool(best)
    return Block(lines, measured)


def results_table(out):
    """results_rows' lines."""
    return results_rows(out).lines


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
    out = Results.of(out)
    lines = []
    for recipe in ABLATED:  # the recipes REPORT.md's ablation tables cover
        commands = [
            "    "
            + " ".join(
                [
                    "python q1_3_improve.py --recipe",
                    recipe,
                    *as_flags(differences(each.run["train_config"], TrainConfig(**RECIPES[recipe]))),
                    "--out",
                    f"{out.folder.name}/ablation/{each.name}",
                ]
            )
            for each in out.ablation_runs(recipe)
        ]
        if commands:
            lines += [f"The {recipe} recipe's runs ({len(commands)}):", ""] + commands + [""]
    return lines


def readings_line(out):
    """Which reading of what the report leaves open its numbers fit; nothing before the sheet's runs."""
    line = fit_sentence(out)
    return ["", line + " Details in `figures/REPORT.md`, \"Where the report is silent\"."] if line else []


def _hours(runs):
    return sum(sum(run["history"].get("seconds") or [0]) for run in runs) / 3600


def cost_line(out):
    """What the whole report costs in CPU time, from the runs' own epoch times."""
    out = Results.of(out)
    seed0 = [run for command in COMMANDS if command.in_everything for run in out.trained_by(command)]
    seeded = [each.run for reading in READINGS for runs in out.reading(reading).seed_runs.values()
              for each in runs if each.seed != 0 or reading != "package"]
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


def _lines(build):
    """A block whose rows are never "not run yet": its lines, no row to guard."""
    return lambda out: Block(build(out), {})


def _results_block(out):
    table = results_rows(out)
    return Block(table.lines + [""] + verdict_line(out) + readings_line(out), table.measured)


def _times_block(out):
    table = times_rows(out)
    return Block(table.lines(), table.measured)


BLOCKS = {"results": _results_block, "times": _times_block,
          "ablations": _lines(ablation_commands), "cost": _lines(cost_line),
          "mutation": _lines(mutation_line)}


def refresh(path, out):
    """Rebuild every block that path holds from out's JSON; returns the rows a block would have
    lost (a row measured before, not measured now: that block is then left as it was)."""
    text = Path(path).read_text()
    out = Results.of(out)
    lost = []
    for name, build in BLOCKS.items():
        begin, end = markers(name)
        if begin not in text:
            continue
        start, stop = text.index(begin) + len(begin), text.index(end)
        block = build(out)
        written = text[start:stop].splitlines()
        gone = [label for label, measured in block.measured.items() if not measured
                and any(line.startswith(f"| {label} |") and NOT_RUN not in line for line in written)]
        if gone:
            lost += gone
            continue
        text = text[:start] + "\n" + "\n".join(block.lines) + "\n" + text[stop:]
    with locked(Path(path).parent):
        write_text(path, text)
    return lost


def refresh_all(out):
    """README.md and docs/recipe.md from out (figures/); returns the rows kept from loss."""
    out = Results.of(out)
    return [row for path in (REPO / "README.md", REPO / "docs" / "recipe.md") if path.is_file()
            for row in refresh(path, out)]
