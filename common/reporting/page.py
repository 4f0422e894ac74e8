"""Tables and figures/REPORT.md, rebuilt from whichever result JSON files are present."""
import argparse
import os
import statistics
import sys
from pathlib import Path

from ..config import (
    CLASSES,
    GIVEN_STD,
    QUICK_MARK,
    REPO,
    RECIPE_TITLES,
    REPORT,
    SCRIPTS,
    TrainConfig,
    as_words,
    differences,
)
from ..files import locked, write_text
from ..results import kernels_words, machine_words, read_record, runs_of
from . import claims, readings
from .ablation import section_ablation
from .figures import draw_confusion, draw_dropout_comparison, draw_seed_bands
from .readme import refresh_all
from .seeds import COMMANDS, damaged_records, damaged_words, seed_runs
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


def _row(what, ours, report=None, digits=2, unit=""):
    # Rounding first, then adding 0.0, turns a float error of -1e-7 into "+0", not "-0".
    diff = (
        "-" if report is None or ours is None else f"{round(ours - report, digits) + 0.0:+,.{digits}f}{unit}"
    )
    return f"| {what} | {_num(ours, digits)}{unit if ours is not None else ''} | " \
           f"{_num(report, digits) + unit if report is not None else 'not given'} | {diff} |"


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
    line = (
        f"_Written on {env.get('device', '?')}{kernels}, torch {env.get('torch', '?')}; {took}"
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


def _settings(cfg):
    """The report's settings, then every other one that differs from the baseline's."""
    text = ", ".join(f"{k} {cfg[k]}" for k in SHOWN_ALWAYS if k in cfg)
    extra = as_words((k, v) for k, v in differences(cfg, TrainConfig()) if k not in SHOWN_ALWAYS)
    return text + "".join(f", {x}" for x in extra)


def _training_rows(run, report):
    return [
        _row("final test accuracy (%)", run["final_test_acc"], report.get("final_test_acc")),
        _row("best validation accuracy (%)", run["best_val_acc"], report.get("best_val_acc")),
        _row("epoch of the best validation accuracy", run["best_val_epoch"], report.get("best_val_epoch"), 0),
        _row("final validation accuracy (%)", run["final_val_acc"], report.get("final_val_acc")),
        _row("test accuracy of the best-validation weights (%)", run.get("best_model_test_acc")),
        _row(
            "median seconds per epoch (training and validation)",
            statistics.median(run["history"]["seconds"]) if run["history"].get("seconds") else None,
            None,
            1,
        ),
        _row(
            "training time, all epochs (minutes)",
            sum(run["history"]["seconds"]) / 60 if run["history"].get("seconds") else None,
            None,
            1,
        ),
    ]


def _section_data(r):
    lines = ["## 1.1 Data", "", _provenance(r), ""] + TABLE_HEAD + [
        _row("training images (1.1.1)", r["n_train_images"], 50000, 0),
        _row("test images (1.1.1)", r["n_test_images"], 10000, 0)]
    for c, name in enumerate(("red", "green", "blue")):
        lines.append(_row(f"mean after normalization, {name} (1.1.2)", r["normalized_mean"][c],
                          REPORT["normalized_mean"][c], 4))
    for c, name in enumerate(("red", "green", "blue")):
        lines.append(_row(f"std after normalization, {name} (1.1.2)", r["normalized_std"][c],
                          REPORT["normalized_std"][c], 4))
    for c, name in enumerate(("red", "green", "blue")):
        lines.append(_row(f"computed mean, {name} (1.1.3; report: the given constant)",
                          r["computed_mean"][c], r["given_mean"][c], 5))
    for c, name in enumerate(("red", "green", "blue")):
        lines.append(_row(f"computed std, {name} (1.1.3; report: the given constant)",
                          r["computed_std"][c], r["given_std"][c], 5))
    lines += [
        _row("training images after the split (1.1.4)", r["split"]["train"], None, 0),
        _row("validation images after the split (1.1.4)", r["split"]["val"], None, 0),
        "",
        "1.1.4: the report uses `random_split` and gives no sizes; "
        + (
            "this package holds out a seeded random 5,000 by default (`--val-split random --val-size 5000`), "
            if r["split"].get("how", "random") == "random"
            else "this run held out the last images, "
        )
        + "and the course sheet holds out the last 1,000 (training on the first 49,000: "
        '`--val-split last --val-size 1000`, the sheet\'s reading in "Where the report is silent").',
        "",
        f"1.1.3: the given mean agrees with `mean_and_std` to {r.get('mean_agrees_to_decimals', '?')} "
        f"decimals and the given std to {r.get('std_agrees_to_decimals', '?')}. "
        "The report's normalized std of 1.002 is the ratio of the true std to the rounded given "
        "constant (0.24349 / 0.243), not a rounding error.",
        "",
    ]
    return lines + _figures(r) + [""]


def _section_model(r):
    lines = ["## 1.2 The ConvNet (1.2.1)", "", _provenance(r), "",
             "| layer | type | output shape | parameters |", "|---|---|---|---:|"]
    lines += [f"| {x['name']} | {x['type']} | {' x '.join(map(str, x['output_shape']))} | {x['params']:,} |"
              for x in r["layers"]]
    lines += ["", *TABLE_HEAD, _row("parameters", r["total_params"], REPORT["total_params"], 0), ""]
    return lines


def _section_train(r):
    lines = ["## 1.3.1-1.3.4 Baseline training", "", _provenance(r), "",
             f"Settings: {_settings(r.get('train_config', {}))}. {machine_words(r)}", "", *TABLE_HEAD]
    lines += _training_rows(r, REPORT["baseline"])
    lines += [
        "",
        f"The report's final validation accuracy is its 1.3.3 \"total accuracy of "
        f'{REPORT["baseline"]["final_val_acc"]}%", read as the final validation accuracy that the course '
        f'sheet\'s 1.3.3 asks for ("close to 70%").',
    ]
    h = r["history"]
    low = min(range(len(h["val_loss"])), key=h["val_loss"].__getitem__)
    lines += [
        "",
        f"Validation loss is lowest at epoch {h['epoch'][low]} ({h['val_loss'][low]:.3f}) and "
        f"{'rises' if h['val_loss'][-1] > h['val_loss'][low] else 'does not rise'} to "
        f"{h['val_loss'][-1]:.3f} by epoch {h['epoch'][-1]}, while training accuracy reaches "
        f"{h['train_acc'][-1]:.1f}%: the over-fitting the report describes."
        if h["epoch"][-1] > h["epoch"][low]
        else "",
        "",
    ]
    return lines + _figures(r) + [""]


def _section_dropout(r):
    lines = ["## 1.3.5 Dropout", "", _provenance(r), ""]
    for p, run in r["runs"].items():
        lines += [
            f"### p = {p}",
            "",
            f"Settings: {_settings(run.get('train_config', {}))}. {machine_words(run)}",
            "",
            *TABLE_HEAD,
        ]
        lines += _training_rows(run, REPORT["dropout"].get(p, {}))
        lines += [""] + _figures(run) + [""]
    lines += ["### All runs", ""] + _figures(r, ["q1_3_5_dropout_comparison.png"]) + [""]
    pred = r["predictions"]
    lines += [
        "## 1.3.6 The best model on ten test images",
        "",
        *([QUICK_LINE, ""] if r.get("quick") else []),
        *TABLE_HEAD,
        _row("best dropout p (by validation accuracy)", r["best_dropout"], REPORT["best_dropout"], 1),
        _row("accuracy fed without normalization (%)", pred["raw"]["accuracy"], REPORT["raw_accuracy"], 0),
        _row("accuracy fed normalized (%)", pred["normalized"]["accuracy"], REPORT["normalized_accuracy"], 0),
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


def _section_improve(r):
    lines = ["## 1.3.7 Improving the model", "", _provenance(r), ""]
    for recipe, title in RECIPE_TITLES.items():
        run = r["runs"].get(recipe)
        if not run:
            lines += [f"### {title}: not run yet (`python q1_3_improve.py --recipe {recipe}`)", ""]
            continue
        report = REPORT["student"] if recipe == "student" else {}
        lines += [
            f"### {title}",
            "",
            f"Settings: {_settings(run.get('train_config', {}))}. {machine_words(run)}",
            "",
            *TABLE_HEAD,
            *_training_rows(run, report),
        ]
        if recipe != "student":
            lines.append(
                _row(
                    f"final test accuracy against the student's {REPORT['student']['final_test_acc']}% (%)",
                    run["final_test_acc"],
                    REPORT["student"]["final_test_acc"],
                )
            )
            for key, what in (("final_test_acc_flip_only", "with test-time flip but no shifts"),
                              ("final_test_acc_without_tta", "without test-time views")):
                if key in run:
                    lines.append(_row(f"final test accuracy {what} (%)", run[key],
                                      REPORT["student"]["final_test_acc"]))
            if "final_val_acc_all_views" in run:
                lines.append(_row("final validation accuracy with every test-time view (%)",
                                  run["final_val_acc_all_views"], None))
        lines += [""] + [f"![{f}]({f})" for f in r["figures"] if f.startswith(f"q1_3_7_{recipe}_")] + [""]
    return lines


def _final_test_accuracies(out):
    """{run name: (final test accuracy, record)} of every full training run in out."""
    found = {}
    train = read_record(out / "q1_3_train.json", quick=False)
    if train and "final_test_acc" in train:
        found["1.3.4 baseline"] = (train["final_test_acc"], train)
    for key, run in ((read_record(out / "q1_3_dropout.json", quick=False) or {}).get("runs") or {}).items():
        found[f"1.3.5 dropout p = {key}"] = (run["final_test_acc"], run)
    for key, run in ((read_record(out / "q1_3_improve.json", quick=False) or {}).get("runs") or {}).items():
        found[f"1.3.7 {key} recipe"] = (run["final_test_acc"], run)
    return found


def _section_devices(out):
    """The CPU runs (out) and the GPU runs (out/gpu) of each question side by side."""
    gpu = _final_test_accuracies(out / "gpu")
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
    for name, (acc, _) in gpu.items():
        other = cpu.get(name, (None, None))[0]
        lines.append(f"| {name} | {'-' if other is None else f'{other:.2f}'} | {acc:.2f} | "
                     f"{'-' if other is None else f'{round(acc - other, 2) + 0.0:+.2f}'} |")
    return lines + [""]


SECTIONS = {"q1_1_data": _section_data, "q1_2_model": _section_model, "q1_3_train": _section_train,
            "q1_3_dropout": _section_dropout, "q1_3_improve": _section_improve}
def build_report(out):
    """The text of REPORT.md from the JSON files in out; sections without results say how to get them."""
    out = Path(out)
    lines = [HEADING, "",
             "Built by `common/report.py` from the JSON files in this folder each time a script finishes; "
             "do not edit by hand. Percent values; differences are this package minus the report.", ""]
    for script in SCRIPTS:
        path = out / f"{script}.json"
        record = read_record(path)
        if record is None and path.is_file():
            lines += [f"> {damaged_words(out, script)}", ""]
        if record is None:
            lines += [f"## {script}: no results yet", "", f"Run `{COMMANDS[script]}`.", ""]
            continue
        try:
            lines += SECTIONS[script](record)
        except (KeyError, TypeError, IndexError) as err:
            lines += [f"## {script}: results incomplete ({type(err).__name__}: {err}); rerun "
                      f"`{COMMANDS[script]}`.", ""]
    answers = Path(os.path.relpath(REPO / "q1_4_answers.md",
                                   out.resolve())).as_posix()
    lines += section_time_to_target(out) + section_ablation(out)
    if (
        sum(1 for runs in seed_runs(out).values() if runs) >= 2
    ):  # a folder of the report's runs, not one run's
        lines += claims.section(out)
    lines += readings.section(out)
    lines += claims.confusion_section(out)
    lines += section_bench(out) + _section_devices(out) + section_times(out)
    lines += [
        "## 1.4 Written answers",
        "",
        f"See [q1_4_answers.md]({answers}) (1.4.1 softmax; 1.4.2, which the report leaves blank: the "
        "course sheet's questions on momentum and on how convolutional and fully-connected layers use "
        "their parameters; 1.4.3 1D convolution; 1.4.4 dropout at test time), each claim checked by "
        "`tests/test_answers.py`.",
        "",
    ]
    return "\n".join(lines)


HEADING = "# CIFAR-10 ConvNet: this package's results beside the report's"


def write_report(out, warn=True):
    """REPORT.md, after the figures that combine runs (several seeds, several runs) are
    redrawn; a damaged record is named on standard error too (warn)."""
    draw_dropout_comparison(out)
    draw_confusion(out)
    draw_seed_bands(out)
    if warn:
        for line in damaged_records(out):
            print(f"warning: {line}", file=sys.stderr)
    return write_text(Path(out) / "REPORT.md", build_report(out))


def refresh_reports(out):
    """Rebuild REPORT.md in out, and in each folder above it that holds one of this
    package's reports (a run written under figures/ablation/<name>/ is a row of
    figures/REPORT.md); never a REPORT.md this package did not write."""
    out = Path(out).resolve()
    with locked(out):  # runs that finish together each rebuild it from every record
        write_report(out)
    for folder in list(out.parents)[:3]:
        path = folder / "REPORT.md"
        try:
            ours = path.is_file() and path.read_text().startswith(HEADING)
        except (OSError, UnicodeDecodeError):
            ours = False
        if ours:
            with locked(folder):
                write_report(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Rebuild FOLDER/REPORT.md from the JSON files there (and, for figures/, README's table "
        "of times); nothing is trained."
    )
    parser.add_argument("folder", nargs="?", default="figures",
                        help="the folder the scripts wrote their JSON to (their --out)")
    folder = Path(parser.parse_args(argv).folder)
    if not folder.is_dir():
        sys.exit(f"error: {folder} is not a folder; pass the folder the scripts wrote their JSON to "
                 f"(their --out, figures/ by default).")
    with locked(folder):
        print(f"wrote {write_report(folder)}")
    if folder.resolve() == (REPO / "figures").resolve():
        lost = refresh_all(folder)
        print(
            f"left a block of README.md or docs/recipe.md as it was: {', '.join(lost)} would have lost "
            "measured "
            f"numbers (their JSON is missing)"
            if lost
            else "rebuilt the generated blocks of README.md and docs/recipe.md"
        )
    if damaged_records(folder):  # named on standard error as the report was written
        sys.exit(1)


if __name__ == "__main__":
    main()
