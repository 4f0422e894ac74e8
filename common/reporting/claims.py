"""REPORT.md's sections on seeds: the spread of each of the report's runs over this
package's seeds, and each of the report's claims quoted with a verdict (common.stats),
all from the JSON, never typed; and the figures that combine runs."""
from pathlib import Path
from typing import NamedTuple

from ..config import REPORT_RUNS, TrainConfig, reading_of
from ..results import read_record
from .seeds import best_recipe_seeds, folder_settings, normalized_against_raw, seed_runs
from .stats import COVERAGE, RULE, Spread, agreement, all_of, higher, p_words, positive, similar


def _fmt(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def _comma_p(p):
    return "" if p is None else f", {p_words(p)}"


def verdict_words(verdict, p):
    """"**holds**, p = 0.002": a verdict as REPORT.md writes it."""
    return f"**{verdict}**{_comma_p(p)}"


def _largest_p(tests):
    """The p-value behind claims that must all hold: the largest, or none while one is untested."""
    ps = [p for _, p in tests]
    return None if None in ps else max(ps)


def loss_rise(run):
    """Validation loss at the last epoch minus its lowest: above 0 when it rose again."""
    losses = run["history"]["val_loss"]
    return losses[-1] - min(losses)


def _values(runs, measure):
    return [measure(run) for _, run, _, _ in runs]


def _numbers(name, runs, measure, what, digits=2):
    values = _values(runs, measure)
    if not values:
        return f"{REPORT_RUNS[name].title}: no full run yet"
    seeds = ", ".join(str(seed) for seed, *_ in runs)
    return (f"{REPORT_RUNS[name].title}, {what} over seed{'s' if len(runs) > 1 else ''} {seeds}: "
            + ", ".join(_fmt(v, digits) for v in values)
            + (f" (mean {_fmt(Spread(values).mean, digits)})" if len(values) > 1 else ""))


def final_test(run):
    return run["final_test_acc"]


def final_val(run):
    return run["final_val_acc"]


class Claim(NamedTuple):
    question: str
    words: str  # the report's, quoted
    verdict: str
    p: float
    numbers: list  # the numbers behind the verdict, in words
    short: str  # what it says, in a table's cell


SHORT = ["the validation loss rises (over-fitting)", "p = 0.2 changes little", "p = 0.5 reduces over-fitting",
         "p = 0.5 is the best p", "p = 0.8 is too high", "normalized inputs beat raw ones",
         "the student's recipe beats the baseline"]


def claims(out, settings=None):
    """[Claim] of the report, from the runs in out (seed_runs(out, settings)), in the report's order."""
    return [Claim(*claim, short) for claim, short in zip(_claims(out, settings), SHORT)]


def _claims(out, settings):
    runs = seed_runs(out, settings)
    test = {name: _values(r, final_test) for name, r in runs.items()}
    rise = {name: _values(r, loss_rise) for name, r in runs.items()}
    found = []

    verdict, p = positive(rise["baseline"])
    found.append(
        (
            "1.3.4",
            "The loss shows graph depicts an over fitting of the model due to the fact that the loss "
            "of the validation data set increases.",
            verdict,
            p,
            [_numbers("baseline", runs["baseline"], loss_rise, "last validation loss minus its lowest", 3)],
        )
    )

    verdict, p = similar(test["dropout 0.2"], test["baseline"])
    found.append(
        (
            "1.3.5",
            "The dropout of 0.2 does not fundamentally impact the behaviour of the model in terms "
            "of accuracy and loss.",
            verdict,
            p,
            [
                _numbers(n, runs[n], final_test, "final test accuracy (%)")
                for n in ("dropout 0.2", "baseline")
            ],
        )
    )

    tests = [higher(rise["baseline"], rise["dropout 0.5"]), higher(rise["dropout 0.2"], rise["dropout 0.5"])]
    found.append(
        (
            "1.3.5",
            "The dropout of 0.5 reduces the over fitting of the previous model(s) model drastically",
            all_of(tests),
            _largest_p(tests),
            [
                _numbers(n, runs[n], loss_rise, "last validation loss minus its lowest", 3)
                for n in ("baseline", "dropout 0.2", "dropout 0.5")
            ],
        )
    )

    tests = [higher(test["dropout 0.5"], test[n]) for n in ("dropout 0.2", "dropout 0.8")]
    found.append(("1.3.5", "The best model achieved in 1.3.5 was the model with a dropout of 0.5.",
                  all_of(tests), _largest_p(tests),
                  [_numbers(n, runs[n], final_test, "final test accuracy (%)")
                   for n in ("dropout 0.2", "dropout 0.5", "dropout 0.8")]))

    tests = [higher(test["dropout 0.5"], test["dropout 0.8"]),
             higher(_values(runs["dropout 0.5"], final_val), _values(runs["dropout 0.8"], final_val))]
    found.append(
        (
            "1.3.5",
            "the dropout rate is slightly too high which reduces the accuracy of the model for both "
            "test and validation set compared to a dropout of 0.5",
            all_of(tests),
            _largest_p(tests),
            [
                _numbers(n, runs[n], m, w)
                for n in ("dropout 0.5", "dropout 0.8")
                for m, w in (
                    (final_test, "final test accuracy (%)"),
                    (final_val, "final validation accuracy (%)"),
                )
            ],
        )
    )

    fed = normalized_against_raw(out, settings=settings)
    verdict, p = positive([norm - raw for _, norm, raw in fed])
    found.append(("1.3.6", "[fed without normalization] Here, the accuracy of classification is at 40%. [fed "
                           "normalized] Here, the accuracy of classification is at 70%.", verdict, p,
                  ["1.3.5 dropout p = 0.5's model, accuracy on the whole test set by seed: "
                   + (", ".join(f"{seed}: {norm:.2f}% normalized, {raw:.2f}% raw" for seed, norm, raw in fed)
                      if fed else "(none yet)")]))

    verdict, p = higher(test["student"], test["baseline"])
    found.append(
        (
            "1.3.7",
            "I have achieved a total validation accuracy of 80.3% in the last epoch and a "
            "corresponding test accuracy of 80.15%. [the baseline: 70.42%]",
            verdict,
            p,
            [_numbers(n, runs[n], final_test, "final test accuracy (%)") for n in ("student", "baseline")],
        )
    )
    return found


def spread_table(out):
    """Markdown lines: each report run's seed-0 final test accuracy beside its spread over
    seeds, the prediction interval for one more run, and where the report's value lies (the
    grading table's rule, stats.agreement)."""
    lines = [
        "| run | seeds | seed 0 (%) | mean (%) | standard deviation | lowest (%) | highest (%) | report (%) "
        f"| {COVERAGE:.0%} interval for one more run (%) | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, runs in seed_runs(out).items():
        label, report = REPORT_RUNS[name].title, REPORT_RUNS[name].report_acc
        values = _values(runs, final_test)
        if not values:
            lines.append(f"| {label} | none yet | - | - | - | - | - | {report:.2f} | - | - |")
            continue
        spread, found = Spread(values), agreement(report, values)
        seed0 = next((run["final_test_acc"] for seed, run, _, _ in runs if seed == 0), None)
        interval = f"{found.low:.2f} to {found.high:.2f}" if found else "one seed: no spread"
        verdict = "-" if not found else found.verdict + (
            f" ({found.seeds_to_tell} seeds would tell)" if found.seeds_to_tell else "")
        lines.append(
            f"| {label} | {', '.join(str(seed) for seed, *_ in runs)} | {_fmt(seed0)} | {spread.mean:.2f} | "
            f"{_fmt(spread.std)} | {spread.low:.2f} | {spread.high:.2f} | {report:.2f} | {interval} | "
            f"{verdict} |"
        )
    return lines


def _reading_flag(settings):
    """" --reading sheet" where settings are a reading other than this package's; else ""."""
    reading = reading_of(settings)
    return f" --reading {reading}" if reading else ""


def section(out):
    """REPORT.md's "Seeds" and "The report's claims" sections."""
    settings = folder_settings(out)
    lines = (
        [
            "## Seeds: how far one run can be trusted",
            "",
            "Final test accuracy of each of the report's runs over this package's seeds (seed 0 is the run "
            "in the sections above; other seeds are in `seeds/<run>_seed<N>/`, listed by "
            f"`python -m common.everything --print{_reading_flag(settings)} --seeds 1 2`). "
            + ("Each seed also draws its own validation images."
               if settings.get("val_split", TrainConfig().val_split) == "random"
               else "Every seed validates on the same images; the seed draws the weights, the order and the "
               "dropout masks.")
            + " The verdict column is the grading table's rule: the report's value against the prediction "
            "interval for one more run.",
            "",
        ]
        + spread_table(out)
        + ["", "## The report's claims", "", f"Each claim is quoted from the report. The rule: {RULE}", ""]
    )
    for question, words, verdict, p, numbers, _ in claims(out):
        lines += [f"- {question}: \"{words}\"", f"  Verdict: {verdict_words(verdict, p)}. "
                  + "; ".join(numbers) + "."]
    return lines + [""]


DROPOUT_FIGURE, CONFUSION_FIGURE = "q1_3_5_dropout_comparison.png", "q1_3_confusion.png"


def confusion_runs(out):
    """[(label, 10 x 10 counts)] for the baseline, the best dropout p, the student's recipe and
    the best 1.3.7 recipe, each the counts summed over every seed of that run that kept them
    (seeds trained before the package kept counts have none); and the labels of those no run
    has them for yet."""
    runs = seed_runs(out)
    sweep = read_record(Path(out) / "q1_3_dropout.json", quick=False) or {}
    best_p = f"{sweep.get('best_dropout', 0.5):g}"
    wanted = [("1.3.4 baseline", runs["baseline"]),
              (f"1.3.5 dropout p = {best_p} (the best by validation)", runs.get(f"dropout {best_p}", [])),
              ("1.3.7 student's recipe", runs["student"]),
              ("1.3.7 this package's best recipe",
               [(seed, run, None, None) for seed, run in best_recipe_seeds(out)])]
    found, missing = [], []
    for label, seeded in wanted:
        kept = [(seed, run["test_confusion"]) for seed, run, *_ in seeded if run.get("test_confusion")]
        if not kept:
            missing.append(label)
            continue
        summed = [[sum(counts[i][j] for _, counts in kept) for j in range(len(kept[0][1]))]
                  for i in range(len(kept[0][1]))]
        right = 100 * sum(summed[i][i] for i in range(len(summed))) / sum(map(sum, summed))
        seeds = [seed for seed, _ in kept]
        which = (f"seed {seeds[0]}" if len(seeds) == 1
                 else f"seeds {', '.join(map(str, seeds[:-1]))} and {seeds[-1]} summed")
        found.append((f"{label}\n{which}: {right:.2f}% right", summed))
    return found, missing


def confusion_section(out):
    """REPORT.md's lines on the confusion figure; none when no run kept its counts."""
    found, missing = confusion_runs(out)
    if not found:
        return []
    text = ("Each panel counts the final models' test-set predictions by true class (rows, with the class's "
            "accuracy) and predicted class (columns), summed over the seeds whose records kept the counts, "
            "which it names (runs trained before the package kept counts have none).")
    if missing:
        text += f" Not yet recorded by any run: {', '.join(missing)}."
    return ["## Confusion on the test set", "", text, "", f"![{CONFUSION_FIGURE}]({CONFUSION_FIGURE})", ""]
