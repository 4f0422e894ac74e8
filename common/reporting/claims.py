"""REPORT.md's sections on seeds: the spread of each of the report's runs over this
package's seeds, and each of the report's claims quoted with a verdict (common.stats),
all from the JSON, never typed; and the figures that combine runs."""
from typing import NamedTuple

from ..config import COMMANDS, REPORT_RUNS, RUN, TrainConfig, reading_of
from .folder import Results
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
    """measure of each seed's run ([SeedRun])."""
    return [measure(seed_run.run) for seed_run in runs]


def _numbers(name, runs, measure, what, digits):
    values = _values(runs, measure)
    if not values:
        return f"{REPORT_RUNS[name].title}: no full run yet"
    seeds = ", ".join(str(seed_run.seed) for seed_run in runs)
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


def _claim(question, short, words, tests, numbers):
    """A claim that holds when each of its tests does ([(verdict, p)]: one test, or several that
    must all hold), with the largest of their p-values."""
    return Claim(question, words, all_of(tests), _largest_p(tests), numbers, short)


def claims(out):
    """[Claim] of the report, from a folder's runs (Results.seed_runs), in the report's order."""
    results = Results.of(out)
    runs = results.seed_runs
    test = {name: _values(r, final_test) for name, r in runs.items()}
    rise = {name: _values(r, loss_rise) for name, r in runs.items()}
    val = {name: _values(runs[name], final_val) for name in ("dropout 0.5", "dropout 0.8")}

    def numbers(names, measure, what, digits=2):
        return [_numbers(name, runs[name], measure, what, digits) for name in names]

    test_words, val_words = "final test accuracy (%)", "final validation accuracy (%)"
    rise_words = "last validation loss minus its lowest"
    fed = results.fed_both_ways()
    return [
        _claim("1.3.4", "the validation loss rises (over-fitting)",
               "The loss shows graph depicts an over fitting of the model due to the fact that the loss "
               "of the validation data set increases.",
               [positive(rise["baseline"])], numbers(["baseline"], loss_rise, rise_words, 3)),
        _claim("1.3.5", "p = 0.2 changes little",
               "The dropout of 0.2 does not fundamentally impact the behaviour of the model in terms "
               "of accuracy and loss.",
               [similar(test["dropout 0.2"], test["baseline"])],
               numbers(["dropout 0.2", "baseline"], final_test, test_words)),
        _claim("1.3.5", "p = 0.5 reduces over-fitting",
               "The dropout of 0.5 reduces the over fitting of the previous model(s) model drastically",
               [higher(rise[name], rise["dropout 0.5"]) for name in ("baseline", "dropout 0.2")],
               numbers(["baseline", "dropout 0.2", "dropout 0.5"], loss_rise, rise_words, 3)),
        _claim("1.3.5", "p = 0.5 is the best p",
               "The best model achieved in 1.3.5 was the model with a dropout of 0.5.",
               [higher(test["dropout 0.5"], test[name]) for name in ("dropout 0.2", "dropout 0.8")],
               numbers(["dropout 0.2", "dropout 0.5", "dropout 0.8"], final_test, test_words)),
        _claim("1.3.5", "p = 0.8 is too high",
               "the dropout rate is slightly too high which reduces the accuracy of the model for both "
               "test and validation set compared to a dropout of 0.5",
               [higher(values["dropout 0.5"], values["dropout 0.8"]) for values in (test, val)],
               [line for name in ("dropout 0.5", "dropout 0.8")
                for line in numbers([name], final_test, test_words) + numbers([name], final_val, val_words)]),
        _claim("1.3.6", "normalized inputs beat raw ones",
               "[fed without normalization] Here, the accuracy of classification is at 40%. [fed "
               "normalized] Here, the accuracy of classification is at 70%.",
               [positive([each.normalized - each.raw for each in fed])],
               ["1.3.5 dropout p = 0.5's model, accuracy on the whole test set by seed: "
                + (", ".join(f"{each.seed}: {each.normalized:.2f}% normalized, {each.raw:.2f}% raw"
                             for each in fed) if fed else "(none yet)")]),
        _claim("1.3.7", "the student's recipe beats the baseline",
               "I have achieved a total validation accuracy of 80.3% in the last epoch and a "
               "corresponding test accuracy of 80.15%. [the baseline: 70.42%]",
               [higher(test["student"], test["baseline"])],
               numbers(["student", "baseline"], final_test, test_words)),
    ]


class SeedSpread(NamedTuple):
    """A report run's final test accuracy over seeds: the seeds, seed 0's value (None without
    one), the spread (None without seeds), the report's value, and where it lies against the
    seeds (stats.agreement; None with fewer than two seeds)."""

    run: str
    seeds: list
    seed0: float | None
    spread: Spread | None
    report: float
    agreement: object


def seed_spreads(out):
    """[SeedSpread] of each of the report's runs, in REPORT_RUNS' order."""
    rows = []
    for name, runs in Results.of(out).seed_runs.items():
        values, report = _values(runs, final_test), REPORT_RUNS[name].report_acc
        seed0 = next((each.run["final_test_acc"] for each in runs if each.seed == 0), None)
        rows.append(SeedSpread(name, [each.seed for each in runs], seed0, Spread(values) if values else None,
                               report, agreement(report, values)))
    return rows


def spread_table(out):
    """Markdown lines of seed_spreads: each report run's seed-0 final test accuracy beside its
    spread over seeds, the prediction interval for one more run, and where the report's value
    lies (the grading table's rule, stats.agreement)."""
    lines = [
        "| run | seeds | seed 0 (%) | mean (%) | standard deviation | lowest (%) | highest (%) | report (%) "
        f"| {COVERAGE:.0%} interval for one more run (%) | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in seed_spreads(out):
        label, report, spread, found = REPORT_RUNS[row.run].title, row.report, row.spread, row.agreement
        if not spread:
            lines.append(f"| {label} | none yet | - | - | - | - | - | {report:.2f} | - | - |")
            continue
        interval = f"{found.low:.2f} to {found.high:.2f}" if found else "one seed: no spread"
        verdict = "-" if not found else found.verdict + (
            f" ({found.seeds_to_tell} seeds would tell)" if found.seeds_to_tell else "")
        lines.append(
            f"| {label} | {', '.join(map(str, row.seeds))} | {_fmt(row.seed0)} | {spread.mean:.2f} | "
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
    results = Results.of(out)
    settings = results.settings
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
        + spread_table(results)
        + ["", "## The report's claims", "", f"Each claim is quoted from the report. The rule: {RULE}", ""]
    )
    for claim in claims(results):
        lines += [f"- {claim.question}: \"{claim.words}\"",
                  f"  Verdict: {verdict_words(claim.verdict, claim.p)}. " + "; ".join(claim.numbers) + "."]
    return lines + [""]


DROPOUT_FIGURE, CONFUSION_FIGURE = "q1_3_5_dropout_comparison.png", "q1_3_confusion.png"


class ConfusionPanel(NamedTuple):
    """One panel of the confusion figure: the run, the seeds whose counts it sums, the summed
    10 x 10 counts (rows: true class)."""

    run: str
    seeds: list
    counts: list

    def right(self):
        """The share of the summed predictions that are right, in %."""
        return 100 * sum(self.counts[i][i] for i in range(len(self.counts))) / sum(map(sum, self.counts))

    def title(self):
        """"1.3.4 baseline\nseeds 0, 1 and 2 summed: 70.12% right": the panel's title."""
        which = (f"seed {self.seeds[0]}" if len(self.seeds) == 1
                 else f"seeds {', '.join(map(str, self.seeds[:-1]))} and {self.seeds[-1]} summed")
        return f"{self.run}\n{which}: {self.right():.2f}% right"


def confusion_runs(out):
    """[ConfusionPanel] for each command that names a panel (config.COMMANDS: the baseline, the
    dropout sweep by its best p, the student's recipe and the best 1.3.7 recipe), each the counts
    summed over every seed of that run that kept them (seeds trained before the package kept counts
    have none); and the names of the runs none has them for yet."""
    results = Results.of(out)
    sweep = results.record("q1_3_dropout", quick=False) or {}
    best_p = f"{sweep.get('best_dropout', 0.5):g}"
    wanted = []
    for command in COMMANDS:
        if command.panel:
            key = best_p if len(command.runs) > 1 else RUN[command.runs[0]].record_key
            name = next((name for name in command.runs if RUN[name].record_key == key), None)
            wanted.append((command.panel.format(key=key), results.seeds_of(name) if name else []))
    found, missing = [], []
    for label, seeded in wanted:
        kept = [(each.seed, each.run["test_confusion"]) for each in seeded if each.run.get("test_confusion")]
        if not kept:
            missing.append(label)
            continue
        size = len(kept[0][1])
        summed = [[sum(counts[i][j] for _, counts in kept) for j in range(size)] for i in range(size)]
        found.append(ConfusionPanel(label, [seed for seed, _ in kept], summed))
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
