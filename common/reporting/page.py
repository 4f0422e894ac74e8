"""Tables and figures/REPORT.md, rebuilt from whichever result JSON files are present."""
import argparse
import os
import statistics
import sys
from pathlib import Path

from ..config import (
    CIFAR_TRAIN_IMAGES,
    CLASSES,
    GENUINE_MEAN,
    GENUINE_SOURCE,
    GENUINE_STD,
    GIVEN_STD,
    QUICK_MARK,
    REPO,
    RECIPE_TITLES,
    REPORT,
    RUNS,
    SCRIPTS,
    TrainConfig,
    as_words,
    differences,
    figure_prefix,
    report_value,
    report_words,
    script_command,
)
from ..files import locked, write_text
from ..results import kernels_words, machine_words, runs_of
from . import claims, grading, readings
from .ablation import section_ablation
from .figures import STEPS_FIGURE, draw_confusion, draw_dropout_comparison, draw_seed_bands, result_folders
from .folder import Records, Results, damaged_words
from .grading import SECTIONS, anchor
from .readme import refresh_all
from .timing import section_bench, section_time_to_target, section_times

def probability_table(predictions, dropout, quick=False):
    """1.3.6: the two 10-class probability tables in Markdown, three decimals, with accuracies."""
    lines = [f"# Question 1.3.6: class probabilities of the best model (dropout p = {dropout})", ""]
    if quick:
        lines += [QUICK_LINE, ""]
    for mode, word in (("raw", "fed without normalization ([0,1] pixels)"),
                       ("normalized", "fed normalized with the given mean and std")):
        r = predictions[mode]
        lines += [f"## Test images {word}: accuracy {r['accuracy']:.0f}%", "",
                  "| image | true | predicted | " + " | ".join(CLASSES) + " |",
                  "|---|---|---|" + "---:|" * len(CLASSES)]
        for i, (index, true, pred, probs) in enumerate(zip(predictions["indices"], predictions["true"],
                                                           r["pred"], r["probs"]), start=1):
            mark = "right" if true == pred else "WRONG"
            cells = " | ".join(f"**{p:.3f}**" if c == pred else f"{p:.3f}" for c, p in enumerate(probs))
            lines.append(f"| {i} (test #{index}) | {CLASSES[true]} | {CLASSES[pred]} ({mark}) | {cells} |")
        lines.append("")
    lines += ["## The whole test set", ""] + whole_test_set_summary(predictions)
    return "\n".join(lines)


def whole_test_set_summary(predictions):
    """Markdown lines: what the whole test set says about raw against normalized inputs,
    and why ten images can say otherwise. Empty for a record made before it was measured."""
    whole = predictions.get("test_set")
    if not whole:
        return []
    raw, norm = whole["raw"], whole["normalized"]
    n = sum(raw["predicted_counts"])
    ranked = sorted(range(len(CLASSES)), key=lambda c: -raw["predicted_counts"][c])
    top, covered = [], 0
    for c in ranked:  # the fewest classes that take 90% of the raw answers
        top.append(c)
        covered += raw["predicted_counts"][c]
        if covered >= 0.9 * n:
            break
    shares = ", ".join(f"{CLASSES[c]} {100 * raw['predicted_counts'][c] / n:.1f}%" for c in top)
    lines = [
        f"On all {n:,} test images the model is right on {norm['accuracy']:.2f}% fed normalized "
        f"and {raw['accuracy']:.2f}% fed raw. Fed [0,1] pixels ({1 / statistics.mean(GIVEN_STD):.1f} "
        "times less contrast than it was trained on, and shifted by the mean) its answers collapse onto "
        f"{_plural(len(top), 'class', 'classes')}, "
        f"which take {100 * covered / n:.1f}% of them: {shares}.",
        "",
    ]
    counted = {c: predictions["true"].count(c) for c in set(predictions["true"])}
    # Ten images of a few classes are explained below; of many, one crowded class is named here.
    crowded = [c for c in top if counted.get(c, 0) >= 3] if len(counted) > 3 else []
    if crowded:
        raw_right = [t for t, p in zip(predictions["true"], predictions["raw"]["pred"]) if t == p]
        from_crowded = sum(t in crowded for t in raw_right)
        names = " and ".join(f"{counted[c]} are {CLASSES[c]}s" for c in crowded)
        recalls = ", ".join(f"{raw['recall'][c]:.1f}% of the test set's {CLASSES[c]}s" for c in crowded)
        lines += [f"Of the ten images shown, {names}, a class the raw feed's answers collapse onto (fed raw, "
                  f"the model gets {recalls} right). {from_crowded} of the raw feed's {len(raw_right)} right "
                  f"answers on the ten are these, which is why it scores "
                  f"{predictions['raw']['accuracy']:.0f}% on them against {raw['accuracy']:.2f}% on all test "
                  "images.", ""]
    shown = sorted(set(predictions["true"]))
    if len(shown) <= 3:
        recalls = "; ".join(f"{CLASSES[c]}: {raw['recall'][c]:.1f}% fed raw, {norm['recall'][c]:.1f}% "
                            f"normalized" for c in shown)
        lines += [f"Recall on the classes of the ten images shown ({recalls})."]
        if predictions["raw"]["accuracy"] >= predictions["normalized"]["accuracy"]:
            favoured = [CLASSES[c] for c in shown if c in top]
            why = f"The ten images come from {_plural(len(shown), 'class', 'classes')} only"
            if favoured:
                why += f", and {', '.join(favoured)} is one the raw feed collapses onto"
            why += (": on so small and one-sided a sample (one image is 10 points) the raw feed ties "
                    "or beats the normalized one, while on the whole test set it is far worse")
            if all(raw["recall"][c] < norm["recall"][c] for c in shown):
                why += (
                    f"; even on the {'class' if len(shown) == 1 else 'classes'} shown it is worse over the "
                    "whole test set, so its "
                    "lead on the ten is chance"
                )
            lines.append(why + ". Pass `--images` with images of several classes to see the "
                         "difference on ten.")
        lines.append("")
    return lines


def _plural(n, one, many):
    return f"{n} {one if n == 1 else many}"


def _num(value, digits=2):
    if value is None:
        return "-"
    if isinstance(value, int):  # counts; every measured quantity keeps its digits, 44.00 beside 41.60
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _row(what, ours, key=None, digits=2, unit=""):
    """A table row: this package's value, the report's as the report writes it (key into
    REPORT; "not given" without one), and the difference."""
    report = report_value(key) if key else None
    # Rounding first, then adding 0.0, turns a float error of -1e-7 into "+0", not "-0".
    diff = (
        "-" if report is None or ours is None else f"{round(ours - report, digits) + 0.0:+,.{digits}f}{unit}"
    )
    return (f"| {what} | {_num(ours, digits)}{unit if ours is not None else ''} | "
            f"{report_words(key) if report is not None else 'not given'} | {diff} |")


TABLE_HEAD = ["| quantity | this package | report | difference |", "|---|---:|---:|---:|"]


QUICK_WORDS = f"**{QUICK_MARK} smoke run: not comparable with the report**"
QUICK_LINE = f"> {QUICK_WORDS}"


def _provenance(record):
    """One line: how the numbers were made, with the marks a grader must see."""
    marks = []
    if record.get("quick"):
        marks.append(QUICK_WORDS)
    data = record.get("data") or {}
    if data and data.get("checksum_verified") is False:
        marks.append("data checksum not verified (re-encoded copy of CIFAR-10)")
    env = record.get("env", {})
    kernels = kernels_words(env)
    seconds = [sum(run["history"].get("seconds") or [0]) for run in runs_of(record).values()]
    took = (f"{sum(seconds) / 60:.1f} minutes of training ({' + '.join(f'{s / 60:.1f}' for s in seconds)})"
            if len(seconds) > 1 else f"{seconds[0] / 60:.1f} minutes of training" if seconds
            else f"{record.get('seconds', 0):.0f} s to run")
    where = (f"Written on {env.get('device', '?')}{kernels}, torch {env.get('torch', '?')}" if env
             else "Machine not recorded (trained before the package recorded it)")
    line = (
        f"_{where}; {took}"
        + (
            f"; {data['n_train']:,} training / {data['n_val']:,} validation / {data['n_test']:,} test images"
            if data and data.get("n_train")
            else ""
        )
        + "._"
    )
    return "\n".join([line] + [f"> {m}" for m in marks])


def _figures(record, names=None):
    return [f"![{name}]({name})" for name in (names or record.get("figures", [])) if name.endswith(".png")]


SHOWN_ALWAYS = ("epochs", "batch_size", "lr", "momentum", "dropout", "activation", "seed")


def _settings(cfg, leave_out=()):
    """The report's settings, then every other one that differs from the baseline's."""
    text = ", ".join(f"{k} {cfg[k]}" for k in SHOWN_ALWAYS if k in cfg and k not in leave_out)
    extra = as_words((k, v) for k, v in differences(cfg, TrainConfig()) if k not in SHOWN_ALWAYS)
    return text + "".join(f", {x}" for x in extra)


def _seconds_rows(run):
    seconds = run["history"].get("seconds")
    return [
        _row("median seconds per epoch (training and validation)",
             statistics.median(seconds) if seconds else None, digits=1),
        _row("training time, all epochs (minutes)", sum(seconds) / 60 if seconds else None, digits=1),
    ]


def slow_epochs_note(run):
    """A sentence where the total training time is not the median epoch's times the epochs: which
    epochs took longer (the machine busy with other work), so the table's median and total agree."""
    seconds = run["history"].get("seconds") or []
    if len(seconds) < 3:
        return []
    median = statistics.median(seconds)
    slow = [(epoch, s) for epoch, s in zip(run["history"]["epoch"], seconds) if s > 1.5 * median]
    if not slow:
        return []
    return [f"The median epoch took {median:.1f} s, but epoch{'s' if len(slow) > 1 else ''} "
            f"{', '.join(str(e) for e, _ in slow)} took {', '.join(f'{s:.0f}' for _, s in slow)} s (the "
            f"machine busy with other work, which the median leaves out): {sum(seconds) / 60:.1f} minutes in "
            "all.", ""]


def _training_rows(run, key=None):
    """A run's accuracies beside the report's (key: where REPORT holds them; None: not given)."""
    at = (lambda name: f"{key}/{name}") if key else (lambda name: None)
    return [
        _row("final test accuracy (%)", run["final_test_acc"], at("final_test_acc")),
        _row("best validation accuracy (%)", run["best_val_acc"], at("best_val_acc")),
        _row("epoch of the best validation accuracy", run["best_val_epoch"], at("best_val_epoch"), 0),
        _row("final validation accuracy (%)", run["final_val_acc"], at("final_val_acc")),
        _row("test accuracy of the best-validation weights (%)", run.get("best_model_test_acc")),
        *_seconds_rows(run),
    ]


def _heading(key):
    return f"## {SECTIONS[key]}"


def _section_data(r):
    lines = [_heading("data"), "", _provenance(r), "",
             "| quantity | this package (the JPEG copy) | the genuine images | report |",
             "|---|---:|---:|---:|",
             f"| training / test images (1.1.1) | {r['n_train_images']:,} / {r['n_test_images']:,} | "
             f"{CIFAR_TRAIN_IMAGES:,} / {REPORT['test_images']:,} | "
             f"{report_words('train_images')} / {report_words('test_images')} |"]
    for key, (what, _) in grading.NORMALIZED.items():
        lines.append(f"| {what} after normalization, red, green, blue (1.1.2) | "
                     f"{', '.join(f'{x:.4f}' for x in r[key])} | {grading.genuine_words(key)} | "
                     f"{report_words(key)} |")
    for what, genuine in (("mean", GENUINE_MEAN), ("std", GENUINE_STD)):
        given = ", ".join(f"{x:g}" for x in r[f"given_{what}"])
        lines.append(f"| `mean_and_std`'s {what} of the training images (1.1.3) | "
                     f"{', '.join(f'{x:.5f}' for x in r[f'computed_{what}'])} | "
                     f"{', '.join(f'{x:.5f}' for x in genuine)} | not given (the constants it was given: "
                     f"{given}) |")
    lines += [
        f"| training / validation images after the split (1.1.4) | {r['split']['train']:,} / "
        f"{r['split']['val']:,} | - | not given |",
        "",
        "1.1.4: the report uses `random_split` and gives no sizes; "
        + (
            "this package holds out a seeded random 5,000 by default (`--val-split random --val-size 5000`), "
            if r["split"].get("how", "random") == "random"
            else "this run held out the last images, "
        )
        + "and the course sheet holds out the last 1,000 (training on the first 49,000: "
        f"`--val-split last --val-size 1000`, the sheet's reading in [{SECTIONS['readings']}]"
        f"({anchor(SECTIONS['readings'])})).",
        "",
        "1.1.2 and 1.1.3: the genuine images' column is "
        f"{GENUINE_SOURCE}, normalized by the constants the report was given "
        f"(\"the Normalization parameters given in the exercises\": its edition of the sheet is not at hand, "
        f"and the 2021 edition gives none). They give "
        + " and ".join(f"{NORMALIZED_WHAT[key]} {grading.genuine_words(key)}" for key in grading.NORMALIZED)
        + (", the report's values to the decimals it writes: the report's 1.1.2 is the genuine images', and "
           "these constants are believed to be the ones it was given because they reproduce it. "
           if all(grading.genuine_gives_the_reports(key) for key in grading.NORMALIZED)
           else ", not the report's values. ")
        + "This package's values differ from both because its copy of the images is re-encoded as JPEG "
        f"(`../shared/cifar10/README.md`): `mean_and_std` finds the given mean to "
        f"{r.get('mean_agrees_to_decimals', '?')} decimals and the std to "
        f"{r.get('std_agrees_to_decimals', '?')} on it, and a normalized channel's std is its std over the "
        f"given constant (green: {r['computed_std'][1]:.5f} / {r['given_std'][1]:g} = "
        f"{r['computed_std'][1] / r['given_std'][1]:.4f}).",
        "",
    ]
    return lines + _figures(r) + [""]


NORMALIZED_WHAT = {"normalized_mean": "a mean of", "normalized_std": "a std of"}


def _section_model(r):
    lines = [_heading("model"), "", _provenance(r), "",
             "| layer | type | output shape | parameters |", "|---|---|---|---:|"]
    lines += [f"| {x['name']} | {x['type']} | {' x '.join(map(str, x['output_shape']))} | {x['params']:,} |"
              for x in r["layers"]]
    lines += [f"| all | - | - | {r['total_params']:,} |", "",
              "The report gives no count (\"Please refer to the source code\").", ""]
    return lines


def _section_steps(r):
    """1.3.1: the baseline's 200-step log, drawn wherever its curves are (the figures redraw it)."""
    run = runs_of(r).get("baseline") or {}
    steps = run.get("steps") or []
    if not steps or f"{figure_prefix('q1_3_train', 'baseline')}_loss.png" not in (r.get("figures") or []):
        return []
    return [_heading("steps"), "",
            f"The baseline (seed {(run.get('train_config') or {}).get('seed', 0)}) logs its training loss "
            f"and accuracy every {steps[0]['step']} steps, each the mean over the steps since the last: "
            f"{len(steps)} points over {run['history']['epoch'][-1]} epochs, from {steps[0]['loss']:.3f} and "
            f"{steps[0]['acc']:.1f}% to {steps[-1]['loss']:.3f} and {steps[-1]['acc']:.1f}%. "
            "The whole log is `steps` in `q1_3_train.json`.",
            "", *_figures(r, [STEPS_FIGURE]), ""]


def curves_answer(history):
    """1.3.4's answer, read from the curves: where the validation loss turns, how far it rises
    while the training loss falls, and the accuracies the epochs end at."""
    val_loss, train_loss = history["val_loss"], history["train_loss"]
    low = min(range(len(val_loss)), key=val_loss.__getitem__)
    last = len(val_loss) - 1
    if low == last:
        return (f"The validation loss falls to its last epoch ({val_loss[low]:.3f} at epoch "
                f"{history['epoch'][low]}): these curves show no over-fitting.")
    return (f"The validation loss is lowest at epoch {history['epoch'][low]} ({val_loss[low]:.3f}), "
            f"then rises by {val_loss[last] - val_loss[low]:.3f} to {val_loss[last]:.3f} at epoch "
            f"{history['epoch'][last]}, "
            f"while the training loss keeps falling, from {train_loss[low]:.3f} to {train_loss[last]:.3f}; "
            f"the training accuracy reaches {history['train_acc'][last]:.1f}% against "
            f"{history['val_acc'][last]:.1f}% on validation. From epoch "
            f"{history['epoch'][low]} on the model is over-fitting: it learns the training images, not what "
            "generalizes.")


def _section_train(r):
    run = runs_of(r)["baseline"]
    lines = [_heading("baseline"), "", _provenance(r), "",
             f"Settings: {_settings(run.get('train_config', {}))}. {machine_words(run)}", "", *TABLE_HEAD]
    lines += _training_rows(run, "baseline")
    lines += [""] + slow_epochs_note(run) + [
        f"1.3.3: the report's \"total accuracy of {report_words('baseline/final_val_acc')}\" is read as the "
        "final validation accuracy that the course sheet's 1.3.3 asks for (\"close to 70%\").",
        "",
        f"1.3.4, from the curves of seed 0: {curves_answer(run['history'])}",
        "",
    ]
    return lines + _figures(r, [f for f in r.get("figures", []) if f != STEPS_FIGURE]) + [""]


def _section_dropout(r, baseline=None):
    runs = r["runs"]
    first = next(iter(runs.values()))
    head = "| quantity | " + " | ".join(f"p = {p}" for p in runs) + " |"

    def row(what, cell):
        return f"| {what} | " + " | ".join(cell(p, run) for p, run in runs.items()) + " |"

    def report(p, name):
        key = f"dropout/{p}/{name}"
        return report_words(key) if report_value(key) is not None else "not given"

    seconds = {p: run["history"].get("seconds") for p, run in runs.items()}
    lines = [
        _heading("dropout"), "", _provenance(r), "",
        f"Settings: {_settings(first.get('train_config', {}), leave_out=('dropout',))}; "
        "dropout p as the column.",
        "", head, "|---|" + "---:|" * len(runs),
        row("final test accuracy, this package (%)", lambda p, run: f"{run['final_test_acc']:.2f}"),
        row("final test accuracy, report", lambda p, run: report(p, "final_test_acc")),
        row("best validation accuracy, this package (%) (epoch)",
            lambda p, run: f"{run['best_val_acc']:.2f} ({run['best_val_epoch']})"),
        row("best validation accuracy, report (epoch)",
            lambda p, run: report(p, "best_val_acc")
            + (f" ({report(p, 'best_val_epoch')})" if report_value(f"dropout/{p}/best_val_epoch") else "")),
        row("final validation accuracy, this package (%)", lambda p, run: f"{run['final_val_acc']:.2f}"),
        row("test accuracy of the best-validation weights (%)",
            lambda p, run: _num(run.get("best_model_test_acc"))),
        row("training time, all epochs (minutes)",
            lambda p, run: f"{sum(seconds[p]) / 60:.1f}" if seconds[p] else "-"),
        "",
    ]
    lines += dropout_comparison(runs, baseline)
    lines += _figures(r, [claims.DROPOUT_FIGURE])
    for run in runs.values():
        lines += _figures(run)
    lines += [""]
    pred = r["predictions"]
    lines += [
        _heading("predictions"),
        "",
        *([QUICK_LINE, ""] if r.get("quick") else []),
        *TABLE_HEAD,
        _row("best dropout p (by validation accuracy)", r["best_dropout"], "best_dropout", 1),
        _row("accuracy fed without normalization (%)", pred["raw"]["accuracy"], "raw_accuracy", 0),
        _row("accuracy fed normalized (%)", pred["normalized"]["accuracy"], "normalized_accuracy", 0),
        "",
        f"Test images {', '.join(map(str, pred['indices']))}; true classes: "
        f"{', '.join(CLASSES[t] for t in pred['true'])}. The report's ten images were drawn by a "
        "shuffled loader and are not these, so the ten-image accuracies compare only roughly.",
        "",
        *whole_test_set_summary(pred),
        "Probability tables: [q1_3_6_probabilities.md](q1_3_6_probabilities.md)",
        "",
    ]
    return lines + _figures(r, ["q1_3_6_predictions_raw.png", "q1_3_6_predictions_normalized.png"]) + [""]


def _recipe_section(r, recipe, level="###", heading=True):
    run = r["runs"].get(recipe)
    title = RECIPE_TITLES[recipe]
    if not run:
        return [f"{level} {title}: not run yet (`python q1_3_improve.py --recipe {recipe}`)", ""]
    lines = [
        *([f"{level} {title}", ""] if heading else []),
        f"Settings: {_settings(run.get('train_config', {}))}. {machine_words(run)}",
        "",
        *TABLE_HEAD,
        *_training_rows(run, "student" if recipe == "student" else None),
    ]
    if recipe != "student":
        student = report_words("student/final_test_acc")
        lines.append(_row(f"final test accuracy against the student's {student} (%)", run["final_test_acc"],
                          "student/final_test_acc"))
        for key, what in (("final_test_acc_flip_only", "with test-time flip but no shifts"),
                          ("final_test_acc_without_tta", "without test-time views")):
            if key in run:
                lines.append(_row(f"final test accuracy {what} (%)", run[key], "student/final_test_acc"))
        if "final_val_acc_all_views" in run:
            lines.append(_row("final validation accuracy with every test-time view (%)",
                              run["final_val_acc_all_views"]))
    return (lines + [""] + slow_epochs_note(run)
            + [f"![{name}]({name})" for name in r["figures"]
               if name.startswith(f"{figure_prefix('q1_3_improve', recipe)}_")] + [""])


def _section_improve(r, baseline=None):
    """1.3.7 on the grading page: the student's run alone (its own machine and time; the package's
    recipes are on BEYOND.md), compared with the baseline as the sheet asks."""
    student = r["runs"].get("student")
    lines = [_heading("student"), ""]
    if not student:
        return lines
    lines += [_provenance({**r, "env": student.get("env") or {}, "runs": {"student": student}}), ""]
    lines += _recipe_section(r, "student", heading=False)
    lines += student_comparison(student, baseline)
    others = [k for k in r["runs"] if k != "student"]
    if others:
        lines += [f"This package's own recipes ({', '.join(others)}: up to "
                  f"{max(r['runs'][k]['final_test_acc'] for k in others):.2f}% final test accuracy), their "
                  f"ablations and the speed measurements go beyond the report: [{BEYOND}]({BEYOND}).", ""]
    return lines


def _gap(run):
    """Training minus validation accuracy at the last epoch: how far a run over-fits."""
    history = run["history"]
    return history["train_acc"][-1] - history["val_acc"][-1]


def dropout_comparison(runs, baseline):
    """1.3.5's "compare to the previous run", in two or three sentences from the records."""
    if not baseline:
        return []
    base = baseline["final_test_acc"]
    tests = ", ".join(f"p = {p} {run['final_test_acc']:.2f}% ({run['final_test_acc'] - base:+.2f})"
                      for p, run in runs.items())
    gaps = ", ".join(f"{_gap(run):.1f} at p = {p}" for p, run in runs.items())
    lines = [f"Against the baseline (p = 0, seed 0: {base:.2f}% final test accuracy), dropout gives {tests}. "
             f"It narrows the gap between training and validation accuracy at the last epoch from "
             f"{_gap(baseline):.1f} points without dropout to {gaps}"
             + (" (below 0: validation above training, where dropout is on only in training)."
                if any(_gap(run) < 0 for run in runs.values()) else ".")]
    last = {p for p, run in runs.items() if run["best_val_epoch"] == run["history"]["epoch"][-1]}
    if last:
        every = "every p" if len(last) == len(runs) else ", ".join(f"p = {p}" for p in runs if p in last)
        lines[0] += (f" For {every} the best validation accuracy is at the last epoch "
                     f"({', '.join(str(runs[p]['history']['epoch'][-1]) for p in runs if p in last)}): still "
                     "improving, as the sheet warns dropout may be (\"increase the number of epochs if "
                     "necessary\"); these runs keep the report's 20 epochs.")
    return lines + [""]


def student_comparison(student, baseline):
    """1.3.7 against the baseline, in two sentences from the records."""
    if not baseline:
        return []
    return [f"Against the baseline (seed 0), the student's recipe raises the final test accuracy from "
            f"{baseline['final_test_acc']:.2f}% to {student['final_test_acc']:.2f}% "
            f"({student['final_test_acc'] - baseline['final_test_acc']:+.2f}) and the best validation "
            f"accuracy from {baseline['best_val_acc']:.2f}% (epoch {baseline['best_val_epoch']}) to "
            f"{student['best_val_acc']:.2f}% (epoch {student['best_val_epoch']}). Its gap between training "
            f"and validation accuracy at the last epoch is {_gap(student):.1f} points against the "
            f"baseline's {_gap(baseline):.1f}: with its dropout of "
            f"{student.get('train_config', {}).get('dropout', '?')} the recipe over-fits far less than the "
            "baseline of 1.3.4.", ""]


def _final_test_accuracies(results):
    """{run title: final test accuracy} of every full training run of config.RUNS in a folder."""
    trained = {run.title: results.trained(run.name) for run in RUNS}
    return {title: run["final_test_acc"] for title, run in trained.items() if run and "final_test_acc" in run}


def _section_devices(out):
    """The CPU runs (out) and the GPU runs (out/gpu) of each question side by side."""
    gpu = _final_test_accuracies(out.below("gpu"))
    if not gpu:
        return []
    cpu = _final_test_accuracies(out)
    lines = [
        "## CPU and GPU side by side",
        "",
        "The same seeds and settings; the difference is floating point (other kernels, TF32 on the GPU), "
        "which training amplifies. GPU results and their own report: [gpu/REPORT.md](gpu/REPORT.md).",
        "",
        "| run | final test on the CPU (%) | on the GPU (%) | difference (GPU - CPU) |",
        "|---|---:|---:|---:|",
    ]
    for name, acc in gpu.items():
        other = cpu.get(name)
        lines.append(f"| {name} | {'-' if other is None else f'{other:.2f}'} | {acc:.2f} | "
                     f"{'-' if other is None else f'{round(acc - other, 2) + 0.0:+.2f}'} |")
    return lines + [""]


SECTIONS_OF = {"q1_1_data": _section_data, "q1_2_model": _section_model, "q1_3_train": _section_train,
               "q1_3_dropout": _section_dropout, "q1_3_improve": _section_improve}
BEYOND = "BEYOND.md"


def graded(out):
    """Whether out holds the report's runs (two or more of them): a folder REPORT.md grades, with
    what goes beyond the report on a page of its own; any other folder (one run's, say) gets
    one page of what it holds."""
    return sum(1 for runs in Results.of(out).seed_runs.values() if runs) >= 2


def build_report(out):
    """The text of REPORT.md from the JSON files in out (a folder, or its Results); in a folder of
    the report's runs, a section without results says how to get them."""
    results = Results.of(out)
    out = results.folder
    whole = graded(results)
    lines = [HEADING, "",
             "Built by `python -m common.report` from the JSON files in this folder each time a script "
             "finishes; do not edit by hand. Percent values; differences are this package minus the report.",
             ""]
    if whole:
        lines += grading.section(results)
    records = {script: results.record(script) for script in SCRIPTS}
    for script, record in records.items():
        if results.records.damaged(out / f"{script}.json"):
            lines += [f"> {damaged_words(out, script)}", ""]
        if record is None:
            if whole or not any(records.values()):
                lines += [f"## {script}: no results yet", "", f"Run `{script_command(script)}`.", ""]
            continue
        try:
            if script == "q1_3_train":
                lines += _section_steps(record)
            if script == "q1_3_improve" and not whole:
                lines += ["## 1.3.7 Improving the model", "", _provenance(record), ""]
                lines += [line for recipe in RECIPE_TITLES if recipe in record["runs"]
                          for line in _recipe_section(record, recipe)]
            elif script in ("q1_3_dropout", "q1_3_improve"):
                baseline = runs_of(records["q1_3_train"] or {}).get("baseline")
                lines += SECTIONS_OF[script](record, baseline=baseline)
            else:
                lines += SECTIONS_OF[script](record)
        except (KeyError, TypeError, IndexError) as err:
            lines += [f"## {script}: results incomplete ({type(err).__name__}: {err}); rerun "
                      f"`{script_command(script)}`.", ""]
    if whole:
        lines += claims.section(results)
    lines += readings.section(results) + claims.confusion_section(results)
    if not whole:
        lines += _beyond_sections(results)
    answers = Path(os.path.relpath(REPO / "q1_4_answers.md", out.resolve())).as_posix()
    lines += [
        _heading("answers"),
        "",
        f"See [q1_4_answers.md]({answers}): 1.4.1 softmax and why it is last; 1.4.2, which the report "
        "leaves blank (the course sheet's items on momentum and on how convolutional and fully-connected "
        "layers use their parameters); 1.4.3 1D convolution; 1.4.4 what dropout does; each in the sheet's "
        "2-3 sentences, each claim checked by `tests/test_answers.py`.",
        "",
    ]
    return "\n".join(lines)


def _beyond_sections(out):
    return (section_time_to_target(out) + section_ablation(out) + section_bench(out) + _section_devices(out)
            + section_times(out))


def build_beyond(out):
    """The text of BEYOND.md in a folder of the report's runs: what goes beyond the report (this
    package's own 1.3.7 recipes, their ablations, speed and precision, how long each question
    takes); None elsewhere, or when out holds none of it."""
    out = Results.of(out)
    if not graded(out):
        return None
    record = out.record("q1_3_improve")
    lines = []
    if record and any(k != "student" for k in record.get("runs") or {}):
        lines += ["## This package's 1.3.7 recipes", "", _provenance(record), ""]
        for recipe in RECIPE_TITLES:
            if recipe != "student" and recipe in record["runs"]:
                lines += _recipe_section(record, recipe)
    lines += _beyond_sections(out)
    if not lines:
        return None
    return "\n".join([BEYOND_HEADING, "",
                      "Built by `python -m common.report` with [REPORT.md](REPORT.md), from the JSON files "
                      "in this folder; none of it is graded, since the report has none of it.", "",
                      *lines])


HEADING = "# CIFAR-10 ConvNet: this package's results beside the report's"
BEYOND_HEADING = "# Beyond the report: this package's own recipes, their ablations, speed and precision"


def write_report(out, warn=True, records=None):
    """REPORT.md, after the figures that combine runs (several seeds, several runs) are
    redrawn; a damaged record is named on standard error too (warn). records: the build's
    Records, when it writes several folders' reports."""
    results = Results(out, records=records)
    draw_dropout_comparison(results)
    draw_confusion(results)
    draw_seed_bands(results)
    if warn:
        for line in results.damaged():
            print(f"warning: {line}", file=sys.stderr)
    beyond = build_beyond(results)
    if beyond:
        write_text(results.folder / BEYOND, beyond)
    return write_text(results.folder / "REPORT.md", build_report(results))


def _ours(path):
    """Whether path is a REPORT.md this package wrote."""
    try:
        return path.is_file() and path.read_text().startswith(HEADING)
    except (OSError, UnicodeDecodeError):
        return False


def refresh_reports(out):
    """Rebuild REPORT.md in out, and in each folder above it that holds one of this
    package's reports (a run written under figures/ablation/<name>/ is a row of
    figures/REPORT.md); never a REPORT.md this package did not write."""
    out = Path(out).resolve()
    with locked(out):  # runs that finish together each rebuild it from every record
        write_report(out)
    for folder in list(out.parents)[:3]:
        if _ours(folder / "REPORT.md"):
            with locked(folder):
                write_report(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Rebuild FOLDER/REPORT.md (and BEYOND.md) from the JSON files there and in every folder "
        "under it (and, for figures/, README's generated blocks); nothing is trained."
    )
    parser.add_argument("folder", nargs="?", default="figures",
                        help="the folder the scripts wrote their JSON to (their --out)")
    folder = Path(parser.parse_args(argv).folder)
    if not folder.is_dir():
        sys.exit(f"error: {folder} is not a folder; pass the folder the scripts wrote their JSON to "
                 f"(their --out, figures/ by default).")
    under = [each for each in result_folders(folder)  # its seeds', readings' and ablations' reports too
             if each.resolve() != folder.resolve() and _ours(each / "REPORT.md")]
    records = Records()  # each JSON file read once, however many reports use it
    for each in [folder, *under]:
        with locked(each):
            print(f"wrote {write_report(each, records=records)}")
    if folder.resolve() == (REPO / "figures").resolve():
        lost = refresh_all(Results(folder, records=records))
        print(
            f"left a block of README.md or docs/recipe.md as it was: {', '.join(lost)} would have lost "
            "measured "
            f"numbers (their JSON is missing)"
            if lost
            else "rebuilt the generated blocks of README.md and docs/recipe.md"
        )
    if Results(folder, records=records).damaged():  # named on standard error as the report was written
        sys.exit(1)


if __name__ == "__main__":
    main()
