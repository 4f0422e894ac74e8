"""One model of a results folder, loaded once per build: its records (each JSON file read once,
however many pages, tables and figures use it), the report's training runs over seeds, the
1.3.7 recipe's seeds and ablations, the benches, and the same for the folders of its readings.

Seed 0 of a run is the folder's own record; every other seed is under its seeds/<run>_seed<N>/
folders (the commands `python -m common.everything --print --seeds 1 2` lists). A run counts as
a seed of one of the report's runs only when it trained the report's settings but for the seed,
and only full runs count."""
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..config import (
    FOLDER_SETTINGS,
    NOT_TRAINING,
    READINGS,
    REPORT_RUNS,
    RUN,
    SCRIPTS,
    SEEDS_FOLDER,
    TrainConfig,
    differences,
    reading_folder,
    script_command,
)
from ..results import read_record, runs_of


# What a value not measured yet reads, in every table and block.
NOT_RUN = "not run yet"


class Records:
    """The JSON records of one build, each file read once: what every Results of the build shares."""

    def __init__(self):
        self._read = {}

    def get(self, path, quick=None):
        """The record at path as read_record gives it: None when missing, damaged, not a record or
        (given quick) made in the other mode."""
        path = Path(path)
        if path not in self._read:
            self._read[path] = read_record(path) if path.is_file() else None
        record = self._read[path]
        if record is None or (quick is not None and record.get("quick") != quick):
            return None
        return record

    def damaged(self, path):
        """Whether a file is at path that cannot be read as a record."""
        return Path(path).is_file() and self.get(path) is None


@dataclass(frozen=True)
class SeedRun:
    """One seed of a run: the run's entry of its record, and the folder the record is in."""

    seed: int
    run: dict
    folder: Path


@dataclass(frozen=True)
class FedBothWays:
    """1.3.6 on the whole test set, for one seed of the model it was made with."""

    seed: int
    normalized: float
    raw: float


@dataclass(frozen=True)
class AblationRun:
    """A run under ablation/<name>/: one run per folder, each with the settings it trained."""

    name: str
    record: dict
    run: dict


def damaged_words(out, script):
    """What to say of script's record in out when it exists but cannot be read: the file, and
    the command that remakes it (the file itself is left as it is)."""
    return (
        f"{Path(out) / f'{script}.json'} is damaged or unreadable (not a JSON record); it was left as it is "
        f"and its results are missing from {Path(out) / 'REPORT.md'}. Remake it with "
        f"`{script_command(script)} --out {out}` (add the flags of the run that made it)."
    )


class Results:
    """A folder's results. settings: what its training runs share beyond the report's (a reading's,
    say: config.READINGS); by default what its own runs share (the settings property). records: the
    build's Records, shared with every other Results of the build."""

    def __init__(self, folder, settings=None, records=None):
        self.folder = Path(folder)
        self.records = Records() if records is None else records
        self._settings = settings
        self._readings = {}

    @classmethod
    def of(cls, out):
        """out as Results: itself if it is one, else a folder's, read afresh."""
        return out if isinstance(out, Results) else cls(out)

    def record(self, script, quick=None):
        """The folder's record of script (q1_3_train, say), or None."""
        return self.records.get(self.folder / f"{script}.json", quick)

    def trained(self, name):
        """The folder's own full run of a config.RUNS entry (its record's entry), or None."""
        run = RUN[name]
        return runs_of(self.record(run.script, quick=False) or {}).get(run.record_key)

    def trained_by(self, command):
        """The folder's own full runs of a config.Command's runs, in its order."""
        return [trained for trained in map(self.trained, command.runs) if trained]

    def below(self, path, settings=None):
        """The Results of a folder under this one (bf16/, gpu/), read by the same build."""
        return Results(self.folder / path, settings, self.records)

    def reading(self, name):
        """The Results of one reading of what the report leaves open (config.READINGS)."""
        if name not in self._readings:
            self._readings[name] = Results(reading_folder(self.folder, name), READINGS[name], self.records)
        return self._readings[name]

    def folders(self, under=(SEEDS_FOLDER,)):
        """The folder, then each folder under its <under>/ folders, in name order."""
        return [self.folder] + sorted(p for sub in under for p in (self.folder / sub).glob("*") if p.is_dir())

    def same_but_seed(self, script, key, settings, quick=False, under=(SEEDS_FOLDER,)):
        """{seed: SeedRun}, in seed order, of script's run `key` here and in the folders under
        <under>/ that trained settings (a TrainConfig, or a record's train_config) but for the
        seed; a seed found twice counts once (this folder's own first). Only runs of quick's mode
        count."""
        found = {}
        for folder in self.folders(under):
            record = self.records.get(folder / f"{script}.json")
            if not record or bool(record.get("quick")) != bool(quick):
                continue
            run = runs_of(record).get(key)
            cfg = (run or {}).get("train_config")
            if isinstance(cfg, dict) and not differences(cfg, settings, ignore=("seed", *NOT_TRAINING)):
                found.setdefault(cfg.get("seed", 0), SeedRun(cfg.get("seed", 0), run, folder))
        return dict(sorted(found.items()))

    @cached_property
    def settings(self):
        """What the folder's training runs share beyond the report's settings (the sheet's reading
        in figures/sheet/, bf16 in figures/bf16/); {} for this package's defaults."""
        if self._settings is not None:
            return self._settings
        defaults = TrainConfig()
        for report_run in REPORT_RUNS.values():
            run = runs_of(self.record(report_run.script, quick=False) or {}).get(report_run.record_key)
            if run:
                cfg = run.get("train_config") or {}
                return {k: cfg[k] for k in FOLDER_SETTINGS if k in cfg and cfg[k] != getattr(defaults, k)}
        return {}

    @cached_property
    def seed_runs(self):
        """{run: [SeedRun]} in seed order, for each of REPORT_RUNS, from here and seeds/."""
        return {name: list(self.same_but_seed(run.script, run.record_key,
                                              TrainConfig(**run.settings, **self.settings)).values())
                for name, run in REPORT_RUNS.items()}

    def seeds_of(self, name):
        """[SeedRun] of a run of config.RUNS in seed order: a report run's (seed_runs), or a recipe's
        full runs that differ from it only in seed, here and under ablation/."""
        if name in REPORT_RUNS:
            return self.seed_runs[name]
        run = RUN[name]
        return list(self.same_but_seed(run.script, run.record_key, TrainConfig(**run.settings),
                                       under=("ablation",)).values())

    @cached_property
    def best_recipe_seeds(self):
        """seeds_of the best 1.3.7 recipe."""
        return self.seeds_of("best")

    def fed_both_ways(self, p="0.5"):
        """[FedBothWays] of dropout p's model, from every full record whose 1.3.6 was made with it
        (the report's best p is 0.5), in seed order."""
        found = {}
        wanted = TrainConfig(**REPORT_RUNS[f"dropout {p}"].settings, **self.settings)
        for folder in self.folders():
            record = self.records.get(folder / "q1_3_dropout.json", quick=False) or {}
            run = (record.get("runs") or {}).get(p)
            whole = (record.get("predictions") or {}).get("test_set")
            if record.get("best_dropout") == float(p) and isinstance(run, dict) and whole:
                cfg = run.get("train_config") or {}
                if not differences(cfg, wanted, ignore=("seed", *NOT_TRAINING)):
                    seed = cfg.get("seed", 0)
                    found.setdefault(seed, FedBothWays(seed, whole["normalized"]["accuracy"],
                                                       whole["raw"]["accuracy"]))
        return [found[seed] for seed in sorted(found)]

    def ablation_runs(self, recipe, quick=False):
        """[AblationRun] of recipe's runs under ablation/, in folder order."""
        found = []
        for path in sorted(self.folder.glob("ablation/*/q1_3_improve.json")):
            record = self.records.get(path, quick=quick)
            run = ((record or {}).get("runs") or {}).get(recipe)
            if isinstance(run, dict) and isinstance(run.get("train_config"), dict):
                found.append(AblationRun(path.parent.name, record, run))
        return found

    def benches(self, pattern="bench_*.json"):
        """The folder's bench records matching pattern, in name order (None for one unreadable)."""
        return [self.records.get(path) for path in sorted(self.folder.glob(pattern))]

    def damaged(self):
        """damaged_words for each record here that exists but cannot be read."""
        return [damaged_words(self.folder, script) for script in SCRIPTS
                if self.records.damaged(self.folder / f"{script}.json")]
