"""The report's five training runs over seeds, read from a results folder: seed 0 from the
folder's own records, every other seed from its seeds/<run>_seed<N>/ folders (the commands
`python -m common.everything --print --seeds 1 2` lists). A run counts only when it trained
the report's settings but for the seed, and only full runs count."""
from pathlib import Path

from .config import BASELINE, NOT_TRAINING, RECIPES, REPORT, SEEDS_FOLDER, STUDENT, TrainConfig, differences
from .results import read_record, runs_of

# run: (how REPORT.md names it, its settings, the report's final test accuracy)
REPORT_RUNS = {
    "baseline": ("1.3.4 baseline", dict(BASELINE), REPORT["baseline"]["final_test_acc"]),
    **{f"dropout {p}": (f"1.3.5 dropout p = {p}", dict(BASELINE, dropout=float(p)), REPORT["dropout"][p]["final_test_acc"])
       for p in ("0.2", "0.5", "0.8")},
    "student": ("1.3.7 student recipe", dict(STUDENT), REPORT["student"]["final_test_acc"]),
}

# Where each of REPORT_RUNS is recorded: (script, key of its run in the record).
RUN_SOURCES = {"baseline": ("q1_3_train", "baseline"),
               **{f"dropout {p}": ("q1_3_dropout", p) for p in ("0.2", "0.5", "0.8")},
               "student": ("q1_3_improve", "student")}


def folders(out, under=(SEEDS_FOLDER,)):
    """out, then each folder under out/<under>/, in name order."""
    out = Path(out)
    return [out] + sorted(p for sub in under for p in (out / sub).glob("*") if p.is_dir())


def same_but_seed(out, script, key, settings, quick=False, under=(SEEDS_FOLDER,), records=None):
    """{seed: (run, record, folder)}, in seed order, of script's run `key` in out and in the
    folders under out/<under>/ that trained settings (a TrainConfig, or a record's
    train_config) but for the seed; a seed found twice counts once (out's own first). Only
    runs of quick's mode count. records: a cache {path: record} shared by several calls."""
    records = {} if records is None else records
    found = {}
    for folder in folders(out, under):
        path = folder / f"{script}.json"
        if path not in records:
            records[path] = read_record(path) if path.is_file() else None
        record = records[path]
        if not record or bool(record.get("quick")) != bool(quick):
            continue
        run = runs_of(record, script).get(key)
        cfg = (run or {}).get("train_config")
        if isinstance(cfg, dict) and not differences(cfg, settings, ignore=("seed", *NOT_TRAINING)):
            found.setdefault(cfg.get("seed", 0), (run, record, folder))
    return dict(sorted(found.items()))


# Settings beyond the report's that a whole results folder may share: a reading's, a precision.
FOLDER_SETTINGS = ("dropout_after", "val_split", "val_size", "precision")


def folder_settings(out):
    """What out's own training runs share beyond the report's settings (the sheet's reading
    in figures/sheet/, bf16 in figures/bf16/); {} for this package's defaults."""
    defaults = TrainConfig()
    for script, key in RUN_SOURCES.values():
        run = runs_of(read_record(Path(out) / f"{script}.json", quick=False) or {}, script).get(key)
        if run:
            cfg = run.get("train_config") or {}
            return {k: cfg[k] for k in FOLDER_SETTINGS if k in cfg and cfg[k] != getattr(defaults, k)}
    return {}


def seed_runs(out, settings=None):
    """{run: [(seed, run dict, record, folder)]} in seed order, for each of REPORT_RUNS, from
    out and out/seeds/. settings: what the runs share beyond the report's (a reading's, say:
    config.READINGS); by default what out's own runs share (folder_settings)."""
    settings = folder_settings(out) if settings is None else settings
    records = {}  # each record read once, not once per run it holds
    return {name: [(seed, *found) for seed, found in
                   same_but_seed(out, *RUN_SOURCES[name], TrainConfig(**REPORT_RUNS[name][1], **settings),
                                 records=records).items()]
            for name in REPORT_RUNS}


def best_recipe_seeds(out):
    """[(seed, run dict)] of the best 1.3.7 recipe's full runs that differ from it only in
    seed: out's own q1_3_improve.json and those under out/ablation/, in seed order."""
    found = same_but_seed(out, "q1_3_improve", "best", TrainConfig(**RECIPES["best"]), under=("ablation",))
    return [(seed, run) for seed, (run, _, _) in found.items()]


def normalized_against_raw(out, p="0.5", settings=None):
    """[(seed, whole-test-set accuracy fed normalized, fed raw)] of dropout p's model, from
    every full record whose 1.3.6 was made with it (the report's best p is 0.5); settings as
    in seed_runs."""
    settings = folder_settings(out) if settings is None else settings
    found = {}
    for folder in folders(out):
        record = read_record(folder / "q1_3_dropout.json", quick=False) or {}
        run = (record.get("runs") or {}).get(p)
        whole = (record.get("predictions") or {}).get("test_set")
        if record.get("best_dropout") == float(p) and isinstance(run, dict) and whole:
            cfg = run.get("train_config") or {}
            if not differences(cfg, TrainConfig(**REPORT_RUNS[f"dropout {p}"][1], **(settings or {})),
                               ignore=("seed", *NOT_TRAINING)):
                found.setdefault(cfg.get("seed", 0), (whole["normalized"]["accuracy"], whole["raw"]["accuracy"]))
    return [(seed, *found[seed]) for seed in sorted(found)]
