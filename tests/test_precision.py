"""The precision setting: bf16 autocast of the training forward pass where the hardware has
native bfloat16, fp32 weights, optimizer state and reported numbers, refused elsewhere.

The tests pretend a CPU with native bf16 where they train (bf16 is emulated on others: slower,
the same arithmetic), so their verdicts do not depend on the machine's CPU."""
import json

import pytest
import torch

from common import train as step
from common.checkpoint import Checkpoints
from common.config import TrainConfig
from common.data import load_cifar10, split_indices, to_device
from common.errors import UsageError
from common.model import ConvNet
from common.train import check_precision, train_step
from common.train import train

CPU = torch.device("cpu")


@pytest.fixture
def native_bf16(monkeypatch):
    monkeypatch.setattr(step, "cpu_bf16_flags", lambda: ["amx_bf16"])


@pytest.fixture
def no_native_bf16(monkeypatch):
    monkeypatch.setattr(step, "cpu_bf16_flags", lambda: [])


@pytest.fixture(scope="module")
def small_data(cifar_root):
    d = load_cifar10(cifar_root, offline=True, skip_checksum=True)
    train_idx, val_idx = split_indices(500, 100, seed=0)
    return to_device(d, train_idx, val_idx, CPU)


def test_bf16_computes_the_forward_pass_in_bf16_and_keeps_fp32_master_weights():
    torch.manual_seed(0)
    model = ConvNet().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    seen = []
    model.conv2.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    x, y = torch.randn(8, 32, 32, 3), torch.randint(0, 10, (8,))
    before = [p.detach().clone() for p in model.parameters()]
    loss, correct = train_step(model, optimizer, x, y, precision="bf16")
    assert seen == [torch.bfloat16]  # the convolutions ran in bf16
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(p.grad.dtype == torch.float32 for p in model.parameters())
    buffers = [optimizer.state[p]["momentum_buffer"] for p in model.parameters()]
    assert all(b.dtype == torch.float32 for b in buffers)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # it did step
    seen.clear()
    train_step(model, optimizer, x, y, precision="fp32")
    assert seen == [torch.float32]


def test_bf16_is_refused_before_training_on_a_cpu_without_native_bf16(no_native_bf16, small_data):
    with pytest.raises(UsageError, match="no native bfloat16.*emulated.*--precision fp32"):
        check_precision("bf16", CPU)
    check_precision("fp32", CPU)  # fp32 is never refused
    lines = []
    with pytest.raises(UsageError, match="--precision bf16"):
        train(TrainConfig(epochs=1, precision="bf16"), small_data, CPU, log=lines.append)
    assert lines == []  # refused before a single step


def test_bf16_refusal_on_the_command_line_is_one_paragraph(tmp_path, cifar_root, monkeypatch, capsys,
                                                           no_native_bf16):
    import q1_3_train

    monkeypatch.setattr(
        "sys.argv",
        [
            "q1_3_train.py",
            "--quick",
            "--precision",
            "bf16",
            "--out",
            str(tmp_path),
            "--data-dir",
            str(cifar_root),
            "--skip-checksum",
        ],
    )
    with pytest.raises(SystemExit) as exit_:
        from common import cli
        cli.run(q1_3_train.main)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --precision bf16") and "Traceback" not in err
    assert not (tmp_path / "q1_3_train.json").exists()


@pytest.mark.e2e
def test_bf16_trains_learns_and_is_recorded(tmp_path, small_data, native_bf16):
    cfg = TrainConfig(epochs=2, batch_size=20, lr=0.01, log_every=10, precision="bf16")
    result, model, _ = train(cfg, small_data, CPU, log=lambda *_: None)
    assert result["final_test_acc"] > 50  # a learnable set: far above the 10% of chance
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(isinstance(v, float) for v in result["history"]["val_loss"])


@pytest.mark.e2e
def test_bf16_is_in_the_scripts_record(tmp_path, cifar_root, monkeypatch, native_bf16):
    import q1_3_train
    # a small subset: bf16 stands in emulated on most CPUs, ten times slower than fp32
    monkeypatch.setattr("common.data.QUICK_TRAIN", 600)
    monkeypatch.setattr("common.data.QUICK_TEST", 200)
    monkeypatch.setattr("sys.argv", ["q1_3_train.py", "--quick", "--epochs", "1", "--precision", "bf16",
                                     "--out", str(tmp_path), "--data-dir", str(cifar_root), "--skip-checksum",
                                     "--checkpoint-dir", str(tmp_path / "ckpt")])
    q1_3_train.main()
    record = json.loads((tmp_path / "q1_3_train.json").read_text())
    assert record["train_config"]["precision"] == "bf16" and record["config"]["precision"] == "bf16"


@pytest.mark.e2e
def test_a_bf16_run_resumes_to_the_same_numbers(tmp_path, small_data, native_bf16):
    # two epochs: the second is cut short, then resumed from the first's checkpoint (bf16 is
    # emulated on most CPUs, ten times slower than fp32, so the run is kept short)
    cfg = TrainConfig(epochs=2, batch_size=20, lr=0.01, log_every=10, precision="bf16")
    whole = train(cfg, small_data, CPU, Checkpoints(tmp_path / "whole", "t"), log=lambda *_: None)[0]

    def interrupt_in_epoch_2(line):
        if line.startswith("epoch  2/2 step"):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train(cfg, small_data, CPU, Checkpoints(tmp_path / "cut", "t"), log=interrupt_in_epoch_2)
    resumed = train(
        cfg, small_data, CPU, Checkpoints(tmp_path / "cut", "t"), resume=True, log=lambda *_: None
    )[0]
    for key in ("train_loss", "val_loss", "val_acc"):
        assert resumed["history"][key] == whole["history"][key]
    assert resumed["final_test_acc"] == whole["final_test_acc"]
    # An fp32 resume of a bf16 run is another run: refused, naming the setting.
    from common.errors import DataError
    with pytest.raises(DataError, match="precision"):
        train(TrainConfig(epochs=3, batch_size=20, lr=0.01, log_every=10), small_data, CPU,
              Checkpoints(tmp_path / "cut", "t"), resume=True, log=lambda *_: None)


def test_the_bench_says_why_it_skipped_bf16(tmp_path, cifar_root, no_native_bf16):
    from common.data import load_cifar10 as load
    from common.speed import compare_precisions
    lines = []
    result = compare_precisions(
        load(cifar_root, offline=True, skip_checksum=True), 64, CPU, 1, log=lines.append
    )
    assert "no native bfloat16" in result["skipped"] and lines[0].startswith("fp32 against bf16: skipped.")


@pytest.mark.e2e
def test_the_bench_times_fp32_and_bf16_for_both_nets(cifar_root, native_bf16, monkeypatch):
    from common import speed
    from common.speed import compare_precisions
    # batches of 64 for the best recipe's net: 128 images time it, where its own 512 would
    # time 512 in bf16 emulated (most CPUs have no native bf16)
    monkeypatch.setitem(speed.PRECISION_NETS, "best", dict(speed.PRECISION_NETS["best"], batch_size=64))
    lines = []
    result = compare_precisions(load_cifar10(cifar_root, offline=True, skip_checksum=True), 128, CPU, 1,
                                log=lines.append)
    for net in ("baseline", "best"):
        assert (
            len(result["images_per_second"][net]["fp32"])
            == len(result["images_per_second"][net]["bf16"])
            == 1
        )
        assert result["median_ratios"][net] == pytest.approx(result["images_per_second"][net]["bf16"][0]
                                                             / result["images_per_second"][net]["fp32"][0])
    assert lines[-1].startswith("median bf16 / fp32 ratio of 1: baseline")


def _baseline_record(folder, seed, test, **settings):
    from common.config import BASELINE, as_dict
    history = {"epoch": [1, 2], "train_loss": [1.0, 0.5], "train_acc": [60, 80], "val_loss": [1.0, 0.9],
               "val_acc": [65, test], "lr": [0.001] * 2, "seconds": [60, 60]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "q1_3_train.json").write_text(json.dumps({
        "quick": False, "config": {}, "env": {}, "figures": [], "history": history, "final_test_acc": test,
        "final_val_acc": test, "best_val_acc": test, "best_val_epoch": 2,
        "train_config": as_dict(TrainConfig(**BASELINE, seed=seed, **settings))}))


def test_whether_bf16_changes_the_answer_follows_the_records(tmp_path):
    from common.reporting.stats import FAILS, HOLDS
    from common.reporting.timing import precision_verdict
    assert precision_verdict(tmp_path) == []  # no bf16 run: nothing to say
    for seed, (fp32, bf16) in enumerate(zip((69.4, 69.9, 69.6), (69.5, 69.8, 69.7))):
        _baseline_record(tmp_path if seed == 0 else tmp_path / "seeds" / f"baseline_seed{seed}", seed, fp32)
        _baseline_record(
            tmp_path / "bf16" if seed == 0 else tmp_path / "bf16" / "seeds" / f"baseline_seed{seed}",
            seed,
            bf16,
            precision="bf16",
        )
    assert f"**{HOLDS}**" in precision_verdict(tmp_path)[0]
    for seed in range(3):  # bf16 now 3 points lower: it changes the answer
        folder = tmp_path / "bf16" if seed == 0 else tmp_path / "bf16" / "seeds" / f"baseline_seed{seed}"
        _baseline_record(folder, seed, 66.5 + 0.2 * seed, precision="bf16")
    line = precision_verdict(tmp_path)[0]
    assert f"**{FAILS}**" in line and "66.50, 66.70, 66.90" in line
