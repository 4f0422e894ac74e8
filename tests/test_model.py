"""Question 1.2.1: the ConvNet's shape, size and dropout behaviour."""
import json

import pytest
import torch

from common.model import ConvNet, count_params, layer_table
from conftest import run_script


def test_output_is_ten_logits_per_image():
    x = torch.randn(5, 3, 32, 32)
    model = ConvNet().eval()
    out = model(x)
    assert out.shape == (5, 10)
    # Logits: fc2's output itself, with no softmax after it (cross-entropy applies its own).
    seen = {}
    model.fc2.register_forward_hook(lambda module, inputs, output: seen.setdefault("fc2", output))
    assert torch.equal(model(x), seen["fc2"])


def test_parameter_count_is_the_reports():
    assert count_params(ConvNet()) == 2_168_362
    assert count_params(ConvNet(dropout=0.5, activation="gelu")) == 2_168_362


def test_layers_follow_the_spec():
    rows = layer_table(ConvNet(dropout=0.3))
    types = [r["type"] for r in rows]
    assert types == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d", "Dropout",
                     "Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d", "Dropout",
                     "Flatten", "Linear", "ReLU", "Linear"]
    shapes = {r["name"]: r["output_shape"] for r in rows}
    assert shapes["pool1"] == [32, 16, 16] and shapes["pool2"] == [64, 8, 8] and shapes["flatten"] == [4096]
    assert sum(r["params"] for r in rows) == 2_168_362
    assert not any(isinstance(m, torch.nn.ReLU) for m in ConvNet(activation="gelu"))


def test_dropout_is_active_in_training_and_off_in_evaluation():
    torch.manual_seed(0)
    model, x = ConvNet(dropout=0.5), torch.randn(4, 3, 32, 32)
    model.train()
    assert not torch.equal(model(x), model(x))  # a new mask each call
    model.eval()
    assert torch.equal(model(x), model(x))
    # In evaluation dropout is the identity: the same weights without dropout agree exactly.
    assert torch.allclose(model(x), _eval_copy(model)(x))


def test_the_sheets_placement_adds_a_dropout_after_fc1s_activation_and_no_parameter():
    """The course sheet's 1.3.5: a dropout layer after each max-pool and after the hidden
    fully-connected layer; the report's own words fit either placement."""
    rows = layer_table(ConvNet(dropout=0.5, dropout_after="pools_and_fc"))
    names = [r["name"] for r in rows]
    after = {names[i - 1]: r["name"] for i, r in enumerate(rows) if r["type"] == "Dropout"}
    assert after == {"pool1": "dropout1", "pool2": "dropout2", "relu5": "dropout3"}
    assert names[-3:] == ["relu5", "dropout3", "fc2"]
    assert sum(r["params"] for r in rows) == 2_168_362
    assert count_params(ConvNet(dropout=0.5, dropout_after="pools_and_fc")) == 2_168_362
    # The package's own reading has no dropout between fc1 and fc2.
    assert [r["type"] for r in layer_table(ConvNet(dropout=0.5))][-3:] == ["Linear", "ReLU", "Linear"]


def test_the_sheets_fc_dropout_is_active_only_in_training():
    torch.manual_seed(0)
    model = ConvNet(dropout=0.5, dropout_after="pools_and_fc")
    hidden = []
    model.dropout3.register_forward_hook(lambda module, inputs, output: hidden.append((inputs[0], output)))
    x = torch.randn(8, 3, 32, 32)
    model.train()
    model(x)
    kept_in, kept_out = hidden[-1]
    zeroed = (kept_out == 0) & (kept_in != 0)
    assert 0.3 < zeroed.float().sum() / (kept_in != 0).float().sum() < 0.7  # about half of them dropped
    assert torch.allclose(kept_out[~zeroed], 2 * kept_in[~zeroed])  # the rest scaled by 1 / (1 - p)
    model.eval()
    model(x)
    assert torch.equal(hidden[-1][0], hidden[-1][1])
    assert torch.allclose(model(x), _eval_copy(model)(x))  # in evaluation, the net without dropout


def _eval_copy(model):
    plain = ConvNet(dropout=0.0)
    plain.load_state_dict(model.state_dict())
    return plain.eval()


@pytest.mark.e2e
def test_q1_2_script_reports_the_parameter_count(tmp_path):
    result = run_script("q1_2_model.py", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2,168,362" in result.stdout
    record = json.loads((tmp_path / "q1_2_model.json").read_text())
    assert record["total_params"] == 2_168_362 and record["layers"][0]["output_shape"] == [32, 32, 32]
