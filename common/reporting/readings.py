"""REPORT.md's "Where the report is silent": the report's runs under each reading of what it
leaves open (config.READINGS: this package's and the course sheet's), each claim's verdict
under each, and which reading the report's numbers fit, all from the JSON."""
import math
from typing import NamedTuple

from .claims import claims
from ..config import READING_NAMES, READING_TITLES, READINGS, REPORT_RUNS
from .folder import Results
from .stats import HOLDS, UNSURE, Spread, p_words

FIT_RULE = (
    "For each run, the distance of a reading's mean over seeds from the report's value, in units of the "
    "pooled sample standard deviation of that run's seeds under both readings (so both readings are "
    "measured in the same unit). Where both readings have at least two seeds of a run, the reading with the "
    "smaller distance fits that run better, and neither where the two are equal as shown. Overall, the "
    "reading with the smaller root-mean-square distance over those runs fits better. This measures fit "
    "only: whether the report's value agrees with a reading's seeds is the grading table's rule."
)


def final_tests(out):
    """{reading: {run: [final test accuracy per seed]}}."""
    results = Results.of(out)
    return {reading: {name: [each.run["final_test_acc"] for each in runs]
                      for name, runs in results.reading(reading).seed_runs.items()} for reading in READINGS}


def pooled_std(*samples):
    """The pooled sample standard deviation of samples (each a list); None without a spread."""
    dof = sum(len(s) - 1 for s in samples if s)
    if dof < 1:
        return None
    return math.sqrt(sum((len(s) - 1) * Spread(s).std ** 2 for s in samples if len(s) > 1) / dof)


def distances(report, samples):
    """{reading: |mean - report| / pooled std} for each reading with values; {} without a spread."""
    unit = pooled_std(*samples.values())
    if not unit:
        return {}
    return {
        reading: abs(Spread(values).mean - report) / unit for reading, values in samples.items() if values
    }


class Fit(NamedTuple):
    """One run's fit: the report's value, each reading's seeds' values and distance from it, and
    the reading it fits better (TIE; None where it cannot be told)."""

    run: str
    report: float
    samples: dict
    distances: dict
    closer: str | None


def fits(out):
    """([Fit] of each report run, overall closer reading or None, {reading: root-mean-square
    distance})."""
    tests = final_tests(out)
    rows, shared = [], {reading: [] for reading in READINGS}
    for name, report in ((name, run.report_acc) for name, run in REPORT_RUNS.items()):
        samples = {reading: tests[reading][name] for reading in READINGS}
        away = distances(report, samples)
        decided = len(away) == len(READINGS) and all(len(v) >= 2 for v in samples.values())
        closer = nearer(away) if decided else None
        rows.append(Fit(name, report, samples, away, closer))
        if closer:
            for reading in READINGS:
                shared[reading].append(away[reading])
    rms = {reading: math.sqrt(sum(d * d for d in ds) / len(ds)) for reading, ds in shared.items() if ds}
    overall = nearer(rms) if len(rms) == len(READINGS) else None
    return rows, overall, rms


def nearer(away):
    """The reading with the smaller distance, TIE where the distances are equal as shown (0.1)."""
    shown = {reading: round(distance, 1) for reading, distance in away.items()}
    best = min(shown.values())
    closest = [reading for reading, distance in shown.items() if distance == best]
    return closest[0] if len(closest) == 1 else TIE


TIE = "neither (equal)"


def _spread_or_none(values):
    if not values:
        return "none yet"
    return Spread(values).words()


def _decided(rows):
    """"over the 2 of 5 runs with two seeds or more under both readings"."""
    n = sum(1 for fit in rows if fit.closer)
    return (f"over the {n} of {len(rows)} runs with two seeds or more under both readings" if n < len(rows)
            else f"over all {n} runs")


def distance_words(distance):
    """"1.2": a distance cell of the readings' table."""
    return f"{distance:.1f}"


def _closer_words(closer):
    """The "fits better" cell: the nearer reading, a tie, or "-" where it cannot be told."""
    return closer or "-"


def _name(reading):
    return READING_NAMES[reading]


def fit_sentence(out):
    """One sentence: which reading the report's numbers fit, and the claims whose verdict
    differs between the readings; None before the sheet's reading has a run."""
    out = Results.of(out)
    rows, overall, rms = fits(out)
    if not any(fit.samples["sheet"] for fit in rows):
        return None
    differ, one_sided = differing_claims(out), told_under_one_reading(out)
    def distances_words():
        return (" against ".join(f"{rms[r]:.1f} under {_name(r)}" for r in READINGS)
                + f", in pooled seed standard deviations, {_decided(rows)}")
    if overall == TIE:
        fit = ("the report's numbers fit both readings equally (root-mean-square distance "
               f"{distances_words()})")
    elif overall:
        fit = (f"the report's numbers fit {_name(overall)} better (root-mean-square distance "
               f"{distances_words()})")
    else:
        fit = ("which reading the report's numbers fit cannot be told yet (fewer than two seeds of a run "
               "under both)")
    flips = (f"{len(differ)} of the claims' verdicts are opposite between them ({'; '.join(differ)})"
             if differ else "no claim's verdict is opposite between them")
    if one_sided:
        flips += f", and {len(one_sided)} told under one reading only ({'; '.join(one_sided)})"
    return f"Where the report is silent (where dropout sits, how many validation images): {fit}; {flips}."


def claims_by_reading(out):
    """{reading: [Claim]}, each from that reading's runs."""
    results = Results.of(out)
    return {reading: claims(results.reading(reading)) for reading in READINGS}


class ClaimApart(NamedTuple):
    """A claim whose verdict differs between the readings: its verdict under each."""

    package: object  # a claims.Claim
    sheet: object

    def told_under_both(self):
        return UNSURE not in (self.package.verdict, self.sheet.verdict)


def claims_apart(out):
    """[ClaimApart] of each claim whose verdict differs between the readings, in the report's order."""
    verdicts = claims_by_reading(out)
    return [ClaimApart(package, sheet) for package, sheet in zip(verdicts["package"], verdicts["sheet"])
            if package.verdict != sheet.verdict]


def differing_claims(out):
    """The short words of each claim whose verdict is opposite between the readings (each told)."""
    return [f"{apart.package.short}: {apart.package.verdict} against {apart.sheet.verdict}"
            for apart in claims_apart(out) if apart.told_under_both()]


def told_under_one_reading(out):
    """The short words of each claim told (holds or not) under one reading and not the other."""
    return [f"{apart.package.short}: {apart.package.verdict} under {_name('package')}, "
            f"{apart.sheet.verdict} under {_name('sheet')}"
            for apart in claims_apart(out) if not apart.told_under_both()]


def section(out):
    """The Markdown lines of the section; none before the sheet's reading has a run."""
    out = Results.of(out)
    rows, overall, rms = fits(out)
    if not any(fit.samples["sheet"] for fit in rows):
        return []
    lines = [
        "## Where the report is silent: two readings",
        "",
        "The report never says where its dropout layers sit or how many images it held out for validation "
        "(its `random_split` gets no sizes). The course's sheet for this assignment does, and differently "
        "from this package's defaults, so every run of the report was also trained under the sheet's "
        "reading, with the same seeds:",
        "",
    ]
    lines += [
        f"- **{reading}**: {READING_TITLES[reading]}; runs in "
        + ("this folder" if reading == "package" else f"`{reading}/`")
        + " (seeds other than 0 under its "
        "`seeds/`)."
        for reading in READINGS
    ]
    lines += ["", "### Each run under each reading (final test accuracy, %)", "",
              "| run | report | " + " | ".join(f"{_name(r)}: mean (lowest to highest)" for r in READINGS)
              + " | " + " | ".join(f"distance, {r}" for r in READINGS) + " | fits better |",
              "|---|---:|" + "---|" * len(READINGS) + "---:|" * len(READINGS) + "---|"]
    for fit in rows:
        cells = [_spread_or_none(fit.samples[r]) for r in READINGS]
        far = [distance_words(fit.distances[r]) if r in fit.distances else "-" for r in READINGS]
        lines.append(
            f"| {REPORT_RUNS[fit.run].title} | {fit.report:.2f} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(far)
            + f" | {_closer_words(fit.closer)} |"
        )
    lines += ["", f"The rule: {FIT_RULE}", ""]
    if overall == TIE:
        lines.append(
            "Overall the report's numbers fit both readings equally: root-mean-square distance "
            + ", ".join(f"{rms[r]:.2f} under {r}" for r in READINGS)
            + f", {_decided(rows)}."
        )
    elif overall:
        lines.append(
            f"Overall the report's numbers fit **{_name(overall)}** better: root-mean-square distance "
            + ", ".join(f"{rms[r]:.2f} under {r}" for r in READINGS)
            + f", {_decided(rows)}."
        )
    else:
        lines.append("Overall: cannot be told yet (no run has two seeds or more under both readings).")
    verdicts = claims_by_reading(out)
    lines += ["", "### The report's claims under each reading", "",
              "Each verdict by the rule of \"The report's claims\", on that reading's seeds.", "",
              "| question | the claim | " + " | ".join(READINGS) + " | same verdict |",
              "|---|---|" + "---|" * len(READINGS) + "---|"]
    for claim, *others in zip(*verdicts.values()):
        every = [claim, *others]
        marks = [f"{c.verdict}{_bracketed_p(c.p)}" for c in every]
        same = ("not yet" if any(c.verdict == UNSURE for c in every)
                else "yes" if len({c.verdict for c in every}) == 1 else "**no**")
        lines.append(f"| {claim.question} | {claim.short} | " + " | ".join(marks) + f" | {same} |")
    held = {reading: sum(c.verdict == HOLDS for c in verdicts[reading]) for reading in READINGS}
    lines += [
        "",
        "Claims that hold: "
        + ", ".join(f"{held[r]} of {len(verdicts[r])} under {r}" for r in READINGS)
        + ".",
        "",
    ]
    return lines


def _bracketed_p(p):
    return "" if p is None else f" ({p_words(p)})"
