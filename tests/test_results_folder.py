"""The reporting part's model of a results folder: every JSON file read once per build, the runs
of the registry (config.RUNS) in every table that lists runs, each seed a named SeedRun."""
import collections
import json
import pathlib

from common.config import COMMANDS, REPORT_RUNS, RUN, RUNS, TIMED
from common.everything import QUESTIONS
from common.reporting import figures, grading, page
from common.reporting.folder import FedBothWays, Results, SeedRun
from common.reporting.timing import times_rows

from test_verdicts import MADE_UP, made_up_results


def made_up_folder(out):
    """test_verdicts' made-up runs, with the ten 1.3.6 images each reading's sweep shows."""
    made_up_results(out)
    ten = {"pred": [0] * 10, "probs": [[0.1] * 10] * 10}
    for path in (out / "q1_3_dropout.json", out / "sheet" / "q1_3_dropout.json"):
        record = json.loads(path.read_text())
        record["predictions"].update(indices=list(range(10)), true=[0] * 10, raw={**ten, "accuracy": 40.0},
                                     normalized={**ten, "accuracy": 70.0})
        path.write_text(json.dumps(record))


def test_one_report_build_reads_each_json_file_once(tmp_path, monkeypatch):
    """`python -m common.report FOLDER` over a folder of the report's runs under both readings,
    their seeds and the pages under it: each record is read once, however many sections use it."""
    made_up_folder(tmp_path)
    for name in ("plot_curves", "plot_comparison", "plot_confusion"):  # the made-up runs draw nothing
        monkeypatch.setattr(figures, name, lambda *args, **kwargs: None)
    page.main([str(tmp_path)])  # the pages under it are this package's from now on
    reads = collections.Counter()
    read_text = pathlib.Path.read_text

    def counted(path, *args, **kwargs):
        if path.suffix == ".json":
            reads[path] += 1
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", counted)
    page.main([str(tmp_path)])
    records = set(tmp_path.rglob("*.json"))
    assert len(records) > 20  # seed 0 of each script and every other seed, under each reading
    assert set(reads) == records
    assert max(reads.values()) == 1


def test_a_folders_seeds_are_named_seed_runs_in_seed_order(tmp_path):
    made_up_results(tmp_path)
    results = Results(tmp_path)
    baseline = results.seed_runs["baseline"]
    assert all(isinstance(each, SeedRun) for each in baseline)
    assert [each.seed for each in baseline] == list(range(len(MADE_UP["package"]["baseline"])))
    made_up = MADE_UP["package"]["baseline"]
    assert [each.run["final_test_acc"] for each in baseline] == [test for test, _ in made_up]
    assert baseline[0].folder == tmp_path and baseline[1].folder == tmp_path / "seeds" / "baseline_seed1"
    assert results.reading("sheet").seed_runs["baseline"][0].folder == tmp_path / "sheet"


def test_the_grading_rows_are_the_registrys_graded_values(tmp_path):
    """One row per value each report run names in config.RUNS, with the record field it judges and
    its seeds' values."""
    made_up_folder(tmp_path)
    values = [row for row in grading.rows(tmp_path) if row.kind == "value"]
    assert sorted((row.question, row.field) for row in values) == sorted(
        (graded.question, graded.field) for run in RUNS for graded in run.graded)
    baseline_test = next(row for row in values if row.what == "baseline, final test accuracy")
    assert baseline_test.values == tuple(test for test, _ in MADE_UP["package"]["baseline"])
    assert baseline_test.report_value == RUN["baseline"].report_acc == 70.42


def test_every_list_of_runs_derives_from_the_registry():
    assert list(REPORT_RUNS) == [run.name for run in RUNS if run.report_key]
    assert QUESTIONS == [["q1_1_data.py"], ["q1_2_model.py"], ["q1_3_train.py"], ["q1_3_dropout.py"],
                         ["q1_3_improve.py", "--recipe", "student"], ["q1_3_improve.py", "--recipe", "best"]]
    assert set(TIMED) == {run.timed_as for run in RUNS}
    assert {name for command in COMMANDS for name in command.runs} == set(RUN)


def test_the_times_table_has_a_row_per_training_command(tmp_path):
    table = times_rows(tmp_path)
    assert list(table.measured) == [c.question for c in COMMANDS if c.runs]
    assert not any(table.measured.values())


def test_the_baselines_record_reads_like_every_other_its_run_under_runs(tmp_path):
    """SPEC.md keeps q1_3_train.json's run at the top level; read, it is {"runs": {"baseline": run}}
    with the machine it was trained on, and a record already holding "runs" reads as written."""
    from common.results import read_record, runs_of
    run = {"history": {"epoch": [1]}, "steps": [], "final_test_acc": 70.0, "train_config": {"seed": 0}}
    common = {"config": {"lr": 0.001}, "env": {"device": "cpu"}, "quick": False, "seconds": 1.0,
              "figures": ["q1_3_4_loss.png"]}
    (tmp_path / "q1_3_train.json").write_text(json.dumps({**common, **run}))
    record = read_record(tmp_path / "q1_3_train.json")
    assert record == {**common, "runs": {"baseline": {"env": {"device": "cpu"}, **run}}}
    assert runs_of(record) == record["runs"] and runs_of({**common, **run}) == record["runs"]
    sweep = {**common, "runs": {"0.5": run}, "best_dropout": 0.5}
    (tmp_path / "q1_3_dropout.json").write_text(json.dumps(sweep))
    assert read_record(tmp_path / "q1_3_dropout.json") == sweep


def _improve(folder, recipe, quick=False, **settings):
    from common.config import RECIPES, TrainConfig, as_dict
    folder.mkdir(parents=True, exist_ok=True)
    run = {"train_config": as_dict(TrainConfig(**{**RECIPES[recipe], **settings})), "final_test_acc": 90.0,
           "history": {"epoch": [1], "val_acc": [80.0], "seconds": [1.0]}}
    (folder / "q1_3_improve.json").write_text(json.dumps({"quick": quick, "runs": {recipe: run}}))


def test_a_recipes_ablation_runs_are_its_runs_under_ablation_in_folder_order(tmp_path):
    _improve(tmp_path / "ablation" / "b_no_lookahead", "best", lookahead=False)
    _improve(tmp_path / "ablation" / "a_4ep", "best", epochs=4)
    _improve(tmp_path / "ablation" / "c_quick", "best", quick=True)
    _improve(tmp_path / "ablation" / "older", "bn_onecycle")
    (tmp_path / "ablation" / "damaged").mkdir()
    (tmp_path / "ablation" / "damaged" / "q1_3_improve.json").write_text("{")
    results = Results(tmp_path)
    assert [each.name for each in results.ablation_runs("best")] == ["a_4ep", "b_no_lookahead"]
    assert [each.name for each in results.ablation_runs("best", quick=None)] == ["a_4ep", "b_no_lookahead",
                                                                                 "c_quick"]
    assert [each.name for each in results.ablation_runs("bn_onecycle")] == ["older"]
    first = results.ablation_runs("best")[0]
    assert first.run["train_config"]["epochs"] == 4 and first.record["runs"]["best"] is first.run


def test_the_benches_are_read_by_name_and_a_damaged_one_is_none(tmp_path):
    (tmp_path / "bench_recipes_cpu_avx2.json").write_text(json.dumps({"env": {"threads": 2}}))
    (tmp_path / "bench_cpu_avx2.json").write_text(json.dumps({"median_ratio": 3.0}))
    (tmp_path / "bench_cpu_avx512.json").write_text("not json")
    results = Results(tmp_path)
    assert results.benches() == [{"median_ratio": 3.0}, None, {"env": {"threads": 2}}]
    assert results.benches("bench_recipes_cpu_*.json") == [{"env": {"threads": 2}}]


def test_a_folder_below_shares_the_builds_records_and_takes_its_own_settings(tmp_path):
    made_up_results(tmp_path)
    results = Results(tmp_path)
    sheet = results.below("sheet", {"val_split": "last"})
    assert sheet.folder == tmp_path / "sheet" and sheet.records is results.records
    assert sheet.settings == {"val_split": "last"}
    reading = results.reading("sheet")
    assert reading.records is results.records and results.reading("sheet") is reading  # made once
    assert results.below("sheet").settings == results.reading("sheet").settings  # read from its own runs


def test_a_confusion_panel_is_titled_by_its_run_its_seeds_and_its_share_right():
    from common.reporting.claims import ConfusionPanel
    counts = [[3, 1], [0, 4]]
    assert ConfusionPanel("1.3.4 baseline", [2], counts).title() == "1.3.4 baseline\nseed 2: 87.50% right"
    assert ConfusionPanel("1.3.4 baseline", [0, 1, 2], counts).title() == (
        "1.3.4 baseline\nseeds 0, 1 and 2 summed: 87.50% right")
    assert ConfusionPanel("r", [0, 1], counts).title() == "r\nseeds 0 and 1 summed: 87.50% right"


def test_a_record_is_read_in_the_mode_asked_for(tmp_path):
    """A smoke run's record counts where smoke runs are asked for, and not where full ones are:
    record(), the 1.3.6 whole-test-set accuracies and the confusion panels' best p."""
    from common.reporting.claims import confusion_runs
    (tmp_path / "q1_3_train.json").write_text(json.dumps({"quick": True, "history": {"epoch": [1]}}))
    results = Results(tmp_path)
    assert results.record("q1_3_train", quick=True)["quick"] is True
    assert results.record("q1_3_train") is results.record("q1_3_train", quick=True)
    assert results.record("q1_3_train", quick=False) is None
    whole = {"test_set": {"normalized": {"accuracy": 70.0}, "raw": {"accuracy": 40.0}}}
    sweep = {"best_dropout": 0.5, "predictions": whole,
             "runs": {"0.5": {"train_config": {"dropout": 0.5}, "history": {"epoch": [1]}}}}
    for quick, fed in ((False, [FedBothWays(0, normalized=70.0, raw=40.0)]), (True, [])):
        (tmp_path / "q1_3_dropout.json").write_text(json.dumps({**sweep, "quick": quick}))
        assert Results(tmp_path).fed_both_ways() == fed
    (tmp_path / "q1_3_dropout.json").write_text(json.dumps({**sweep, "quick": True, "best_dropout": 0.2}))
    _, missing = confusion_runs(Results(tmp_path))
    assert "1.3.5 dropout p = 0.5 (the best by validation)" in missing  # not the smoke run's p = 0.2


def test_a_folders_own_run_of_the_registry_is_its_records_full_entry(tmp_path):
    """trained(name): the run a config.RUNS entry names, from its script's record here, full runs
    only; trained_by(command): those of a command's runs the folder has, in the command's order."""
    sweep_command = next(command for command in COMMANDS if command.script == "q1_3_dropout")
    run = {"history": {"epoch": [1]}, "final_test_acc": 70.0}
    (tmp_path / "q1_3_train.json").write_text(json.dumps({"quick": False, **run}))
    sweep = {"quick": False,
             "runs": {"0.8": {**run, "final_test_acc": 66.0}, "0.2": {**run, "final_test_acc": 71.0}}}
    (tmp_path / "q1_3_dropout.json").write_text(json.dumps(sweep))
    results = Results(tmp_path)
    assert results.trained("baseline")["final_test_acc"] == 70.0
    assert results.trained("dropout 0.8")["final_test_acc"] == 66.0 and results.trained("dropout 0.5") is None
    assert [each["final_test_acc"] for each in results.trained_by(sweep_command)] == [71.0, 66.0]
    assert results.trained("student") is None
    (tmp_path / "q1_3_train.json").write_text(json.dumps({"quick": True, **run}))
    assert Results(tmp_path).trained("baseline") is None  # a smoke run is not a full run
