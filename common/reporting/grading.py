"""REPORT.md's grading table: one row per question and claim of the report, with the report's
value as it writes it, this package's seed 0 and its mean over seeds, and a verdict, each row
linking to the section that holds the rest. README's results block is its accuracy rows."""
import re
from typing import NamedTuple

from ..config import (GENUINE_MEAN, GENUINE_STD, GIVEN_MEAN, GIVEN_STD, REPORT, REPORT_RUNS, SHEET,
                      SHEET_NUMBERING, SHEET_TARGETS, reading_folder, reading_of, report_value, report_words)
from ..results import runs_of
from .claims import claims
from .folder import NOT_RUN, Results
from .stats import FAILS, HOLDS, WITHIN, Spread, agreement, agreement_rule, p_words

# REPORT.md's sections of the report's questions, by key: (their questions, the rest of their
# heading); the grading table links each row to its section by the questions.
QUESTION_SECTIONS = {
    "data": ("1.1", "Data"),
    "model": ("1.2", "The ConvNet (1.2.1)"),
    "steps": ("1.3.1", "The training every 200 steps"),
    "baseline": ("1.3.2-1.3.4", "Baseline training"),
    "dropout": ("1.3.5", "Dropout"),
    "predictions": ("1.3.6", "The best model on ten test images"),
    "student": ("1.3.7", "The student's improved model"),
    "answers": ("1.4", "Written answers"),
}
# Every section's heading, by key, written once here.
SECTIONS = {
    **{key: f"{questions} {title}" for key, (questions, title) in QUESTION_SECTIONS.items()},
    "seeds": "Seeds: how far one run can be trusted",
    "claims": "The report's claims",
    "readings": "Where the report is silent: two readings",
}


def anchor(heading):
    """The link GitHub gives a heading: "1.3.5 Dropout" -> "#135-dropout"."""
    return "#" + re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def link(section):
    return f"[{QUESTION_SECTIONS[section][0]}]({anchor(SECTIONS[section])})"


class Row(NamedTuple):
    question: str
    what: str
    report: str  # as the report writes it, or "not given"
    seed0: str
    over_seeds: str
    verdict: str
    section: str  # a key of SECTIONS
    # What a value's verdict was judged on (not shown): the report's value and the seeds' values.
    report_value: float | None = None
    values: tuple = ()
    # what the row is: "value" (over seeds), "claim", "sheet target", "ten images", "fact", "answer"
    kind: str = "value"
    field: str | None = None  # a value's record field ("final_test_acc")
    note: str = ""  # how the report's value is read, where it leaves that open

    def what_words(self):
        return self.what + (f" ({self.note})" if self.note else "")

    def cells(self):
        return (f"| {self.question} | {self.what_words()} | {self.report} | {self.seed0} | "
                f"{self.over_seeds} | {self.verdict} | {link(self.section)} |")


HEAD = ["| question | what | report | this package, seed 0 | this package over seeds: mean (lowest to "
        "highest) | verdict | details |", "|---|---|---:|---:|---|---|---|"]
NOT_GIVEN = "not given"
def rule():
    return (f"A value's verdict: {agreement_rule()}. A claim's verdict is "
            f"[its test's]({anchor(SECTIONS['claims'])}).")


def noise_verdict(report, values):
    """Where the report's value lies against this package's seeds (stats.agreement), in words;
    "-" with fewer than 2 seeds or no spread."""
    found = agreement(report, values)
    return found.words() if found else "-"


def _percent(value):
    return f"{value:.2f}%"


# A record field of a run, as a grading row names it; fields are ordered so within a question.
FIELD_WORDS = {"final_test_acc": "final test accuracy", "final_val_acc": "final validation accuracy",
               "best_val_acc": "best validation accuracy"}


def _accuracy_row(run, graded, seeds):
    """A row of one of the report's values of a run (config.Graded): seed 0 and the spread over
    seeds ([SeedRun]) beside the report's."""
    values = [each.run[graded.field] for each in seeds]
    seed0 = next((each.run for each in seeds if each.seed == 0), None)
    key = f"{run.report_key}/{graded.field}"
    report = report_value(key)
    epoch = f"{run.report_key}/best_val_epoch" if graded.field == "best_val_acc" else None
    shown = report_words(key) + (f" (epoch {report_words(epoch)})" if epoch else "")
    ours = "-" if seed0 is None else _percent(seed0[graded.field]) + (
        f" (epoch {seed0['best_val_epoch']})" if epoch else "")
    return Row(graded.question, f"{run.label}, {FIELD_WORDS[graded.field]}", shown, ours,
               Spread(values).words("%") if values else NOT_RUN, noise_verdict(report, values),
               SECTION_OF_RUN[run.script], report, tuple(values), field=graded.field,
               note=graded.note)


SECTION_OF_RUN = {"q1_3_train": "baseline", "q1_3_dropout": "dropout", "q1_3_improve": "student"}


def _claim_rows(results):
    rows = []
    sections = {"1.3.4": "baseline", "1.3.5": "dropout", "1.3.6": "predictions", "1.3.7": "student"}
    for claim in claims(results):
        verdict = f"**{claim.verdict}**" + (f" ({p_words(claim.p)})" if claim.p is not None else "")
        rows.append(Row(claim.question, f"claim: {claim.short}", "claimed", "-", "-", verdict,
                        sections[claim.question], kind="claim"))
    return rows


def accuracy_rows(out):
    """The rows of the report's values of its runs (config.REPORT_RUNS' graded), by question, then
    field (FIELD_WORDS' order), then run."""
    seeds = Results.of(out).seed_runs
    graded = [(run, each) for run in REPORT_RUNS.values() for each in run.graded]
    order = list(REPORT_RUNS)
    graded.sort(key=lambda pair: (pair[1].question, list(FIELD_WORDS).index(pair[1].field),
                                  order.index(pair[0].name)))
    return [_accuracy_row(run, each, seeds[run.name]) for run, each in graded]


def sheet_target_rows(out):
    """A row for each of the sheet's targets (config.SHEET_TARGETS), labelled as the sheet's: the
    report's run and this package's seeds against it."""
    runs, rows = Results.of(out).seed_runs, []
    for sheet_question, words, run, field, kind, target in SHEET_TARGETS:
        question = SHEET_NUMBERING.get(sheet_question, sheet_question)
        values = [each.run[field] for each in runs[run]]
        seed0 = next((each.run[field] for each in runs[run] if each.seed == 0), None)
        report = report_value(f"{run}/{field}")
        rows.append(Row(question, f"the sheet's target (its {sheet_question}): \"{words}\"",
                        report_words(f"{run}/{field}"), "-" if seed0 is None else _percent(seed0),
                        Spread(values).words("%") if values else NOT_RUN,
                        target_verdict(kind, target, report, values), SECTION_OF_RUN[REPORT_RUNS[run].script],
                        kind="sheet target", field=field))
    return rows


def target_verdict(kind, target, report, values):
    """"met by the report and by all 3 seeds", or for "close to": how close the farthest is."""
    if kind == "over":
        met = sum(v > target for v in values)
        seeds = f"all {len(values)} seeds" if met == len(values) else f"{met} of {len(values)} seeds"
        return f"{'met' if report > target else 'not met'} by the report; met by {seeds}"
    farthest = max(abs(v - target) for v in [report, *values])
    return (f"the report and every seed within {farthest:.2f} points of {target:g}% (the sheet sets no "
            f"tolerance)")


def _largest_difference(ours, theirs):
    return max(abs(a - b) for a, b in zip(ours, theirs))


# 1.1.2's statistics, and the decimals the report writes each to.
NORMALIZED = {"normalized_mean": ("mean", 4), "normalized_std": ("std", 3)}


def genuine_normalized():
    """1.1.2 on the genuine images: their published mean and std (config.GENUINE_*) normalized by
    the given constants, {"normalized_mean": [...], "normalized_std": [...]}."""
    return {"normalized_mean": [(m - g) / s for m, g, s in zip(GENUINE_MEAN, GIVEN_MEAN, GIVEN_STD)],
            "normalized_std": [s / g for s, g in zip(GENUINE_STD, GIVEN_STD)]}


def genuine_words(key):
    """"-0.0000, -0.0002, 0.0001": the genuine images' value at the report's decimals."""
    return ", ".join(f"{x:.{NORMALIZED[key][1]}f}" for x in genuine_normalized()[key])


def genuine_gives_the_reports(key):
    """Whether the genuine images give the report's value at the decimals the report writes."""
    decimals = NORMALIZED[key][1]
    return all(abs(round(g, decimals) - r) < 0.5 * 10 ** -decimals
               for g, r in zip(genuine_normalized()[key], REPORT[key]))


def normalized_verdict(key, ours):
    """1.1.2's verdict: whose values the report's are, and how far this copy's lie from them."""
    gap = _largest_difference(ours, genuine_normalized()[key])
    whose = ("the report's, as the genuine images give them" if genuine_gives_the_reports(key)
             else "not the report's: the genuine images give")
    return f"{whose} ({genuine_words(key)}); this JPEG copy's differ from them by up to {gap:.4f}"


def _data_rows(results):
    data = results.record("q1_1_data")
    model = results.record("q1_2_model")
    if not data:
        rows = [Row("1.1", "the data", "-", "not run in this folder", "-", "-", "data", kind="fact")]
    else:
        counts = (data["n_train_images"], data["n_test_images"])
        rows = [Row("1.1.1", "training / test images",
                    f"{report_words('train_images')} / {report_words('test_images')}",
                    f"{counts[0]:,} / {counts[1]:,}", "-",
                    "same" if counts == (REPORT["train_images"], REPORT["test_images"]) else "differs",
                    "data", kind="fact")]
        for key, (what, _) in NORMALIZED.items():
            ours = data[key]
            rows.append(Row("1.1.2", f"{what} of each channel after normalization", report_words(key),
                            ", ".join(f"{x:.4f}" for x in ours), "-", normalized_verdict(key, ours), "data",
                            kind="fact"))
        rows += [
            Row("1.1.3", "`mean_and_std` against the constants the report was given", NOT_GIVEN,
                f"mean to {data.get('mean_agrees_to_decimals', '?')} decimals, std to "
                f"{data.get('std_agrees_to_decimals', '?')}", "-", "-", "data", kind="fact"),
            Row("1.1.4", "training / validation images", NOT_GIVEN,
                f"{data['split']['train']:,} / {data['split']['val']:,}", "-", "-", "data", kind="fact"),
        ]
    rows.append(Row("1.2.1", "parameters of the ConvNet", NOT_GIVEN,
                    f"{model['total_params']:,}" if model else "not run in this folder", "-", "-", "model",
                    kind="fact"))
    return rows


def _prediction_row(results):
    sweep = results.record("q1_3_dropout") or {}
    pred = sweep.get("predictions")
    if not pred:
        return []
    whole = results.fed_both_ways()
    raw, normalized = Spread([each.raw for each in whole]), Spread([each.normalized for each in whole])
    over = (f"{raw.mean:.2f}% / {normalized.mean:.2f}% "
            f"on all test images ({len(whole)} seed{'s' if len(whole) > 1 else ''})" if whole else "-")
    return [Row("1.3.6", "ten test images fed raw / normalized",
                f"{report_words('raw_accuracy')} / {report_words('normalized_accuracy')}",
                f"{pred['raw']['accuracy']:.0f}% / {pred['normalized']['accuracy']:.0f}%", over,
                "other images: compare roughly", "predictions", kind="ten images")]


def rows(out):
    """Every row of the grading table, in the report's order."""
    results = Results.of(out)
    by_question = {}
    for row in (accuracy_rows(results) + sheet_target_rows(results) + _claim_rows(results)
                + _prediction_row(results)):
        by_question.setdefault(row.question, []).append(row)
    ordered = _data_rows(results)
    steps = runs_of(results.record("q1_3_train") or {}).get("baseline") or {}
    if steps.get("steps"):
        ordered.append(Row("1.3.1", "training loss and accuracy every 200 steps", "logged, not shown",
                           f"{len(steps['steps'])} points", "-", "-", "steps", kind="fact"))
    for question in sorted(by_question):
        ordered += by_question[question]
    ordered += [Row(answer.question, answer.what, answer.report, answer.ours, "-", answer.verdict, "answers",
                    kind="answer") for answer in ANSWERS]
    return ordered


# 1.4: each question, the report's answer in its words, the gist of q1_4_answers.md's, and how they
# compare (tests/test_answers.py finds each question's heading there and each quote in the report).
class Answer(NamedTuple):
    question: str
    what: str
    report: str  # the report's answer, quoted
    ours: str  # the gist of q1_4_answers.md's
    verdict: str


ANSWERS = [Answer(*answer) for answer in [
    ("1.4.1", "what softmax is, and why it is the last layer",
     "\"used as an activation function ... to normalize the outputs as a probability\"",
     "a probability distribution over the classes; last because the loss scores it as the true class's "
     "likelihood", "the report's answer: right on what, silent on why"),
    ("1.4.2", "the sheet's items 2 (momentum) and 3 (convolutional against fully-connected layers)",
     "left blank", "momentum: a running velocity of gradients; a convolution: one small filter shared "
     "across positions, which suits local, shift-invariant image features", "answered here only"),
    ("1.4.3", "two kinds of data for 1D convolution", "\"a time series\"",
     "time series (sensor, ECG recordings) and text as word embeddings", "the report names one kind of two"),
    ("1.4.4", "what dropout does", "\"weights get set to 0\" in training, unchanged at test",
     "zeroes activations (not weights) at random in training, the identity at test; a regularizer "
     "against over-fitting", "the report's answer: wrong on what is zeroed"),
]]


def table(out):
    return [*HEAD, *(row.cells() for row in rows(out))]


def _kernel_families(results):
    """The CPU kernel families the folder's records name ("AVX512 and AVX2"), or None."""
    families = []
    for path in sorted(results.folder.rglob("q1_*.json")):
        record = results.records.get(path) or {}
        for env in [record.get("env") or {}, *((run or {}).get("env") or {}
                                               for run in (record.get("runs") or {}).values())]:
            family = env.get("cpu_capability")
            if family and family not in families:
                families.append(family)
    return " and ".join(families) or None


def summary(out, graded_rows):
    """REPORT.md's opening, in the parts of the ML Reproducibility Challenge's summary; every number
    from the records (graded_rows: this folder's grading rows)."""
    out = Results.of(out)
    valued = [row for row in graded_rows if len(row.values) >= 2]
    found = [agreement(row.report_value, row.values) for row in valued]
    within = sum(a.verdict == WITHIN for a in found)
    outside = [(row, a) for row, a in zip(valued, found) if not a.inside]
    unsure = len(found) - within - len(outside)
    verdicts = claims(out)
    held = sum(c.verdict == HOLDS for c in verdicts)
    failed = [c.short for c in verdicts if c.verdict == FAILS]
    seeds = sorted({len(runs) for runs in out.seed_runs.values() if runs})
    model = out.record("q1_2_model") or {}
    data = out.record("q1_1_data") or {}
    families = _kernel_families(out)
    reading = reading_of(out.settings) or "package"
    largest = max(outside, key=lambda pair: abs(pair[0].report_value - pair[1].spread.mean), default=None)
    copy = (" (it moves 1.1.2's statistics by up to "
            f"{max(_largest_difference(data[k], genuine_normalized()[k]) for k in NORMALIZED):.4f}; what it "
            "does to the accuracies is not measured here)" if data else "")
    seed_words = (f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}") if seeds else "no"
    other = (f"the other reading: [{SECTIONS['readings']}]({anchor(SECTIONS['readings'])})"
             if reading == "package" and reading_folder(out.folder, "sheet").is_dir()
             else "this package's reading: the top folder's REPORT.md" if reading != "package"
             else "the other reading: not run in this folder")
    unsure_claims = len(verdicts) - held - len(failed)
    lines = [
        "## Reproducibility summary",
        "",
        f"- **Scope**: the report's {len(valued)} accuracies that seeds can judge and its {len(verdicts)} "
        "claims (1.3.3-1.3.7), each a row of the grading table below, with 1.1's data, 1.2's network and "
        "1.4's answers.",
        "- **Method**: this package's own PyTorch code, one script per question, trained on CPUs"
        + (f" ({families} kernels)" if families else "")
        + f"; each of the report's {len(REPORT_RUNS)} training runs with {seed_words} seeds, under "
        f"{'this package' if reading == 'package' else 'the course sheet'}'s reading of what the report "
        f"leaves open ({other}); on a JPEG copy of CIFAR-10{copy}.",
        f"- **Sheet**: every \"sheet's\" is {SHEET}; its "
        + " and ".join(f"{sheet} is the report's {ours}" for sheet, ours in SHEET_NUMBERING.items()) + ".",
        f"- **Result**: of the {len(valued)} accuracies, {within} lie within seed noise, {unsure} cannot be "
        f"told at the seeds run and {len(outside)} lie outside this package's 95% interval"
        + (f" (the largest gap: {largest[0].what}, {largest[0].report} against a mean of "
           f"{largest[1].spread.mean:.2f}%)" if largest else "")
        + f"; of the {len(verdicts)} claims, {held} hold"
        + (f" and {len(failed)} {'does' if len(failed) == 1 else 'do'} not ({'; '.join(failed)})"
           if failed else "")
        + (f", {unsure_claims} cannot be told" if unsure_claims else "")
        + ".",
        "- **What was easy**: the data, the network"
        + (f" ({model['total_params']:,} parameters)" if model else "")
        + " and the baseline's settings, which the report and the sheet give in full.",
        "- **What was difficult**: what the report leaves open: where its dropout layers sit and how many "
        "images it validates on (hence two readings), what its \"total accuracy\" is (read as the final "
        "validation accuracy), and its ten 1.3.6 images (a shuffled loader's, not these).",
        "- **Contact with the author**: none.",
        "",
    ]
    return lines


def section(out):
    """REPORT.md's opening: the summary, the grading table and the rule of its verdicts."""
    out = Results.of(out)
    graded_rows = rows(out)
    return [*summary(out, graded_rows), "## Grading table", "", *HEAD,
            *(row.cells() for row in graded_rows), "", rule(), ""]

