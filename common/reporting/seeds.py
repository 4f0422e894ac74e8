"""The report's five training runs over seeds, read from a results folder: seed 0 from the
folder's own records, every other seed from its seeds/<run>_seed<N>/ folders (the commands
`python -m common.everything --print --seeds 1 2` lists). A run counts only when it trained
the report's settings but for the seed, and only full runs count."""
from pathlib import Path

from ..config import (
    FOLDER_SETTINGS,
    NOT_TRAINING,
    RECIPES,
    REPORT_RUNS,
    SCRIPTS,
    SEEDS_FOLDER,
    TrainConfig,
    differences,
)
from ..results import read_record, runs_of

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
        run = runs_of(record).get(key)
        cfg = (run or {}).get("train_config")
        if isinstance(cfg, dict) and not differences(cfg, settings, ignore=("seed", *NOT_TRAINING)):
            found.setdefault(cfg.get("seed", 0), (run, record, folder))
    return dict(sorted(found.items()))


def folder_settings(out):
    """What out's own training runs share beyond the report's settings (the sheet's reading
    in figures/sheet/, bf16 in figures/bf16/); {} for this package's defaults."""
    defaults = TrainConfig()
    for report_run in REPORT_RUNS.values():
        record = read_record(Path(out) / f"{report_run.script}.json", quick=False) or {}
        run = runs_of(record).get(report_run.record_key)
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
                   same_but_seed(out, run.script, run.record_key, TrainConfig(**run.settings, **settings),
                                 records=records).items()]
            for name, run in REPORT_RUNS.items()}


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
            if not differences(cfg, TrainConfig(**REPORT_RUNS[f"dropout {p}"].settings, **(settings or {})),
                               ignore=("seed", *NOT_TRAINING)):
                found.setdefault(
                    cfg.get("seed", 0), (whole["normalized"]["accuracy"], whole["raw"]["accuracy"])
                )
    return [(seed, *found[seed]) for seed in sorted(found)]


# The commands that make each script's record, as REPORT.md tells a reader to run them.
COMMANDS = {"q1_1_data": "python q1_1_data.py", "q1_2_model": "python q1_2_model.py",
            "q1_3_train": "python q1_3_train.py", "q1_3_dropout": "python q1_3_dropout.py",
            "q1_3_improve": "python q1_3_improve.py --recipe student && python q1_3_improve.py"}


def damaged_words(out, script):
    """What to say of script's record in out when it exists but cannot be read: the file, and
    the command that remakes it (the file itself is left as it is)."""
    return (
        f"{Path(out) / f'{script}.json'} is damaged or unreadable (not a JSON record); it was left as it is "
        f"and its results are missing from {Path(out) / 'REPORT.md'}. Remake it with "
        f"`{COMMANDS[script]} --out {out}` (add the flags of the run that made it)."
    )


def damaged_records(out):
    """damaged_words for each record in out that exists but cannot be read."""
    return [damaged_words(out, script) for script in SCRIPTS
            if (Path(out) / f"{script}.json").is_file() and read_record(Path(out) / f"{script}.json") is None]
