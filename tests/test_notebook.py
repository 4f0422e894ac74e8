"""Every script under a notebook's %run, in a real Jupyter kernel, as from a shell.

Colab and Jupyter are where most students run this assignment: `%run q1_3_train.py` must
train, write and refresh exactly what `python q1_3_train.py` does, and a mistake must end in
the same one paragraph, with no traceback and no "SystemExit" under it.
"""
import json

import pytest

from conftest import REPO, run_script

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbclient and ipykernel: "
                               "pip install -r requirements-dev.txt")
nbclient = pytest.importorskip("nbclient", reason="pip install -r requirements-dev.txt (nbclient)")
pytest.importorskip("ipykernel", reason="pip install -r requirements-dev.txt (ipykernel)")

SCRIPTS = sorted(path.name for path in REPO.glob("q1_*.py"))


def run_cells(*sources):
    """Each source as a cell of one notebook, run top to bottom in a fresh kernel started in the
    repository (as a notebook beside the scripts would be); returns each cell's outputs."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(REPO)}}).execute()
    return [cell.outputs for cell in notebook.cells]


def streams(outputs, name):
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == name)


def errors(outputs):
    """What the notebook shows as an exception (a traceback, or IPython's short SystemExit)."""
    return [f"{o['ename']}: {o['evalue']}" for o in outputs if o["output_type"] == "error"]


@pytest.mark.e2e
def test_every_script_runs_under_percent_run_as_from_a_shell(cifar_root, tmp_path):
    data = ["--device", "cpu", "--data-dir", cifar_root, "--skip-checksum"]
    quick = ["--quick", "--epochs", "1", *data]
    shell = run_script("q1_3_train.py", *quick, "--out", tmp_path / "shell",
                       "--checkpoint-dir", tmp_path / "shell_ckpt")
    assert shell.returncode == 0, shell.stderr

    def cell(script, *args):
        return " ".join(["%run", script, *map(str, args)])
    helps = [cell(script, "--help") for script in SCRIPTS]
    outputs = run_cells(
        *helps,
        cell("q1_2_model.py", "--out", tmp_path / "model"),
        cell("q1_3_train.py", *quick, "--out", tmp_path / "notebook", "--checkpoint-dir", tmp_path / "ckpt"),
        cell("q1_3_train.py", "--seed", "x"),
        cell("q1_3_train.py", "--offline", "--data-dir", tmp_path / "nowhere", "--out", tmp_path / "none"),
    )
    assert len(SCRIPTS) == 5
    for script, shown in zip(SCRIPTS, outputs):
        assert errors(shown) == [], script
        assert streams(shown, "stdout").startswith(f"usage: {script}"), script
    model, trained, bad_flag, no_data = outputs[len(SCRIPTS):]

    assert errors(model) == [] and "total parameters: 2,168,362" in streams(model, "stdout")
    assert json.loads((tmp_path / "model" / "q1_2_model.json").read_text())["total_params"] == 2_168_362

    assert errors(trained) == [], streams(trained, "stderr")
    assert "1.3.4 final test accuracy" in streams(trained, "stdout")
    in_notebook = json.loads((tmp_path / "notebook" / "q1_3_train.json").read_text())
    from_shell = json.loads((tmp_path / "shell" / "q1_3_train.json").read_text())
    for key in ("history", "steps", "final_test_acc", "figures"):
        if key == "history":
            in_notebook[key].pop("seconds"), from_shell[key].pop("seconds")
        assert in_notebook[key] == from_shell[key], key
    assert sorted(p.name for p in (tmp_path / "notebook").iterdir()) == \
        sorted(p.name for p in (tmp_path / "shell").iterdir())

    # Mistakes: the usage line and argparse's message, or the one paragraph; nothing under them.
    assert errors(bad_flag) == [] and "argument --seed: invalid int value: 'x'" in streams(bad_flag, "stderr")
    said = streams(no_data, "stderr")
    assert errors(no_data) == [] and said.startswith("error: CIFAR-10 not found") and said.count("\n") == 1
    assert "Traceback" not in said + streams(bad_flag, "stderr")
