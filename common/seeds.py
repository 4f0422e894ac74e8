"""The report's five training runs over seeds, read from a results folder: seed 0 from the
folder's own records, every other seed from its seeds/<run>_seed<N>/ folders (the commands
`python -m common.everything --print --seeds 1 2` lists). A run counts only when it trained
the report's settings but for the seed, and only full runs count."""
from pathlib import Path

from .config import BASELINE, NOT_TRAINING, RECIPES, REPORT, SEEDS_FOLDER, STUDENT, TrainConfig, differences
from .results import ablation_runs, read_record

# run: (how REPORT.md names it, its settings, the report's final test accuracy)
REPORT_RUNS = {
    "baseline": ("1.3.4 baseline", dict(BASELINE), REPORT["baseline"]["final_test_acc"]),
    **{f"dropout {p}": (f"1.3.5 dropout p = {p}", dict(BASELINE, dropout=float(p)), REPORT["dropout"][p]["final_test_acc"])
       for p in ("0.2", "0.5", "0.8")},
    "student": ("1.3.7 student recipe", dict(STUDENT), REPORT["student"]["final_test_acc"]),
}

def folders(out):
    """out, then each folder under out/seeds/, in name order."""
    out = Path(out)
    return [out] + sorted(p for p in (out / SEEDS_FOLDER).glob("*") if p.is_dir())


def _runs_in(folder):
    """(run, run dict, its record) for each report run a folder's full records hold."""
    train = read_record(folder / "q1_3_train.json", quick=False)
    if train and isinstance(train.get("history"), dict):
        yield "baseline", train, train
    dropout = read_record(folder / "q1_3_dropout.json", quick=False) or {}
    for p, run in (dropout.get("runs") or {}).items():
        if f"dropout {p}" in REPORT_RUNS and isinstance(run, dict) and isinstance(run.get("history"), dict):
            yield f"dropout {p}", run, dropout
    improve = read_record(folder / "q1_3_improve.json", quick=False) or {}
    run = (improve.get("runs") or {}).get("student")
    if isinstance(run, dict) and isinstance(run.get("history"), dict):
        yield "student", run, improve


# Settings beyond the report's that a whole results folder may share: a reading's, a precision.
FOLDER_SETTINGS = ("dropout_after", "val_split", "val_size", "precision")


def folder_settings(out):
    """What out's own training runs share beyond the report's settings (the sheet's reading
    in figures/sheet/, bf16 in figures/bf16/); {} for this package's defaults."""
    defaults = TrainConfig()
    for name, run, _ in _runs_in(Path(out)):
        cfg = run.get("train_config") or {}
        return {k: cfg[k] for k in FOLDER_SETTINGS if k in cfg and cfg[k] != getattr(defaults, k)}
    return {}


def seed_runs(out, settings=None):
    """{run: [(seed, run dict, record, folder)]} in seed order, for each of REPORT_RUNS;
    a seed found twice counts once (out's own record first). settings: what the runs share
    beyond the report's (a reading's, say: config.READINGS); by default what out's own runs
    share (folder_settings)."""
    settings = folder_settings(out) if settings is None else settings
    found = {name: {} for name in REPORT_RUNS}
    for folder in folders(out):
        for name, run, record in _runs_in(folder):
            cfg = run.get("train_config") or {}
            if differences(cfg, TrainConfig(**REPORT_RUNS[name][1], **(settings or {})),
                           ignore=("seed", *NOT_TRAINING)):
                continue
            found[name].setdefault(cfg.get("seed", 0), (run, record, folder))
    return {name: [(seed, *found[name][seed]) for seed in sorted(found[name])] for name in REPORT_RUNS}


def best_recipe_seeds(out):
    """[(seed, run dict)] of the best 1.3.7 recipe's full runs that differ from it only in
    seed: out's own q1_3_improve.json and those under out/ablation/, in seed order; a seed
    found twice counts once (out's own first)."""
    own = ((read_record(Path(out) / "q1_3_improve.json", quick=False) or {}).get("runs") or {}).get("best")
    found = {}
    for run in [own, *(run for _, _, run in ablation_runs(out, "best"))]:
        if isinstance(run, dict) and not differences(run.get("train_config") or {}, TrainConfig(**RECIPES["best"]),
                                                     ignore=("seed", *NOT_TRAINING)):
            found.setdefault(run["train_config"].get("seed", 0), run)
    return [(seed, found[seed]) for seed in sorted(found)]


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
