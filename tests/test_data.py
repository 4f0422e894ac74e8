"""Question 1.1: loading CIFAR-10, its checks, mean_and_std, normalization and the split."""
import json

import numpy as np
import pytest
import torch

from common import data as cifar
from common.data import load_cifar10, mean_and_std, normalize, split_indices
from common.errors import DataError, UsageError
from conftest import run_script, write_batch


def test_loads_all_images_as_uint8_tensors(cifar_root):
    d = load_cifar10(cifar_root, offline=True, skip_checksum=True)
    assert d.train_images.shape == (5000, 3, 32, 32) and d.train_images.dtype == torch.uint8
    assert d.test_images.shape == (1000, 3, 32, 32)
    assert d.train_labels.dtype == torch.int64 and set(d.train_labels.tolist()) == set(range(10))
    assert d.checksum_verified is False


def test_pixels_keep_the_pickle_layout(fresh_cifar_root):
    """Row r of 'data' is 1024 red, then 1024 green, then 1024 blue values, row-major."""
    folder = fresh_cifar_root / "cifar-10-batches-py"
    pixels = np.arange(3072, dtype=np.int64) % 256
    write_batch(folder / "data_batch_1", np.tile(pixels.astype(np.uint8), (100, 1)), np.zeros(100, int))
    d = load_cifar10(fresh_cifar_root, offline=True, skip_checksum=True)
    assert d.train_images[0, 1, 0, 0] == 1024 % 256 and d.train_images[0, 0, 0, 5] == 5
    assert d.train_images[0, 2, 1, 0] == (2048 + 32) % 256


def test_checksum_mismatch_is_refused_unless_skipped(cifar_root):
    with pytest.raises(DataError, match="data_batch_1.*--skip-checksum"):
        load_cifar10(cifar_root, offline=True)
    assert load_cifar10(cifar_root, offline=True, skip_checksum=True).checksum_verified is False


def test_missing_data_offline_names_the_folder_and_the_fixes(tmp_path):
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path / "empty", offline=True)
    message = str(err.value)
    assert str(tmp_path / "empty") in message and "--offline" in message
    assert "--data-dir" in message and "cifar-10-python.tar.gz" in message


def test_truncated_batch_is_named(fresh_cifar_root):
    path = fresh_cifar_root / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="data_batch_3 is unreadable"):
        load_cifar10(fresh_cifar_root, offline=True, skip_checksum=True)


def test_wrong_array_shape_is_named(fresh_cifar_root):
    path = fresh_cifar_root / "cifar-10-batches-py" / "test_batch"
    write_batch(path, np.zeros((100, 1024), np.uint8), np.zeros(100, int))
    with pytest.raises(DataError, match="test_batch holds an array of shape \\(100, 1024\\)"):
        load_cifar10(fresh_cifar_root, offline=True, skip_checksum=True)


def test_labels_outside_0_to_9_are_named(fresh_cifar_root):
    path = fresh_cifar_root / "cifar-10-batches-py" / "data_batch_2"
    write_batch(path, np.zeros((100, 3072), np.uint8), np.arange(100) % 20)
    with pytest.raises(DataError, match="data_batch_2 has labels from 0 to 19"):
        load_cifar10(fresh_cifar_root, offline=True, skip_checksum=True)


@pytest.mark.e2e
@pytest.mark.parametrize("args, expected", [
    (["--offline"], "CIFAR-10 not found"),
    ([], "does not match the published MD5"),
])
def test_scripts_report_data_errors_without_traceback(tmp_path, cifar_root, args, expected):
    data_dir = tmp_path / "nothing" if "--offline" in args else cifar_root
    result = run_script("q1_1_data.py", "--data-dir", data_dir, "--offline", *args, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_mean_and_std_match_numpy_on_known_arrays():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(50, 3, 8, 8), dtype=np.uint8)
    mean, std = mean_and_std(torch.from_numpy(images))
    scaled = images / 255.0
    np.testing.assert_allclose(mean.numpy(), scaled.mean(axis=(0, 2, 3)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(std.numpy(), scaled.std(axis=(0, 2, 3)), rtol=0, atol=1e-12)
    assert mean.dtype == torch.float64


def test_mean_and_std_of_a_constant_and_a_two_valued_channel():
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    images[:, 0] = 255
    images[0, 1], images[1, 1] = 0, 255  # half black, half white: mean 0.5, population std 0.5
    mean, std = mean_and_std(images)
    torch.testing.assert_close(mean, torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64))
    torch.testing.assert_close(std, torch.tensor([0.0, 0.5, 0.0], dtype=torch.float64))


def test_normalize_uses_the_given_constants():
    images = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    out = normalize(images)
    expected = [(1 - m) / s for m, s in zip(cifar.GIVEN_MEAN, cifar.GIVEN_STD)]
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor(expected))
    # Float input is taken to be on the [0,1] scale already.
    torch.testing.assert_close(normalize(images.float() / 255), out)


def test_normalized_data_has_mean_0_std_1_under_its_own_statistics():
    images = torch.randint(0, 256, (100, 3, 8, 8), dtype=torch.uint8)
    mean, std = mean_and_std(images)
    m2, s2 = mean_and_std(normalize(images, tuple(mean.tolist()), tuple(std.tolist()), torch.float64))
    torch.testing.assert_close(m2, torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(s2, torch.ones(3, dtype=torch.float64), atol=1e-12, rtol=0)


def test_split_sizes_disjoint_and_seeded():
    train, val = split_indices(50000, 5000, seed=0)
    assert len(train) == 45000 and len(val) == 5000
    assert len(set(train.tolist()) | set(val.tolist())) == 50000
    again_train, again_val = split_indices(50000, 5000, seed=0)
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    assert not torch.equal(val, split_indices(50000, 5000, seed=1)[1])


def test_split_size_is_configurable_and_checked():
    assert len(split_indices(1000, 100, seed=0)[1]) == 100
    with pytest.raises(UsageError, match="--val-size 1000 leaves no training images out of 1000"):
        split_indices(1000, 1000, seed=0)


def test_the_sheets_split_holds_out_exactly_the_last_n_images():
    """The course sheet's 1.1.3: train on the first 49,000, validate on the last 1,000."""
    train, val = split_indices(50000, 1000, seed=0, how="last")
    assert train.tolist() == list(range(49000)) and val.tolist() == list(range(49000, 50000))
    assert torch.equal(val, split_indices(50000, 1000, seed=7, how="last")[1])  # no seed in it
    with pytest.raises(UsageError, match="--val-size"):
        split_indices(1000, 1000, seed=0, how="last")


@pytest.mark.e2e
def test_the_split_setting_reaches_the_record(tmp_path, cifar_root):
    out = tmp_path / "out"
    result = run_script("q1_1_data.py", "--quick", "--out", out, "--data-dir", cifar_root, "--skip-checksum",
                        "--val-split", "last", "--val-size", "300")
    assert result.returncode == 0, result.stderr
    assert "the last images held out" in result.stdout
    record = json.loads((out / "q1_1_data.json").read_text())
    assert record["split"]["how"] == "last" and record["config"]["val_split"] == "last"


@pytest.mark.e2e
def test_q1_1_quick_writes_figure_and_json(tmp_path, cifar_root):
    import json

    result = run_script(
        "q1_1_data.py", "--data-dir", cifar_root, "--skip-checksum", "--quick", "--out", tmp_path
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "q1_1_data.json").read_text())
    assert record["quick"] is True and (tmp_path / "q1_1_1_samples.png").stat().st_size > 1000
    assert record["split"] == {"train": 3500, "val": 500, "how": "random"}
    for key in ("computed_mean", "computed_std", "normalized_mean", "normalized_std", "given_mean"):
        assert len(record[key]) == 3
    assert record["data"]["checksum_verified"] is False


# Real data: run when CIFAR10_DIR points at a built copy.
def test_real_data_counts_and_classes(real_root):
    d = load_cifar10(real_root, offline=True, skip_checksum=True)
    assert len(d.train_labels) == 50000 and len(d.test_labels) == 10000
    assert d.train_labels.bincount().tolist() == [5000] * 10
    assert d.test_labels.bincount().tolist() == [1000] * 10


@pytest.mark.e2e
def test_real_data_statistics_match_the_copy(real_root):
    d = load_cifar10(real_root, offline=True, skip_checksum=True)
    mean, std = mean_and_std(d.train_images)
    # The values ../shared/cifar10/README.md gives for this JPEG copy.
    np.testing.assert_allclose(mean.numpy(), [0.49125, 0.48209, 0.44652], atol=1e-3)
    np.testing.assert_allclose(std.numpy(), [0.24523, 0.24278, 0.26063], atol=1e-3)


def test_the_environment_sets_the_data_flags_defaults(monkeypatch):
    """README's `export CIFAR10_SKIP_CHECKSUM=1` and $CIFAR10_DIR set what the flags default to;
    "0" or nothing leaves the check on (conftest clears both for every other test)."""
    from common.cli import base_parser
    for value, skipped in (("1", True), ("0", False), ("", False)):
        monkeypatch.setenv("CIFAR10_SKIP_CHECKSUM", value)
        monkeypatch.setenv("CIFAR10_DIR", "/somewhere/cifar")
        args = base_parser("x").parse_args([])
        assert (args.skip_checksum, args.data_dir) == (skipped, "/somewhere/cifar")
    monkeypatch.delenv("CIFAR10_DIR")
    assert base_parser("x").parse_args([]).data_dir == "data"
