"""Fixtures: a synthetic cifar-10-batches-py in the original pickle layout, and the real copy."""
import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
# The variables the package reads, as README tells a user to set them in the shell that runs the
# tests: the real data's folder is taken for the real-data tests, then every one of them is cleared,
# so no test and no script a test starts depends on what the shell holds. A test that needs one
# sets it itself.
PACKAGE_VARIABLES = ("CIFAR10_DIR", "CIFAR10_SKIP_CHECKSUM")
REAL_DATA_DIR = os.environ.get("CIFAR10_DIR")
for name in PACKAGE_VARIABLES:
    os.environ.pop(name, None)
BATCH_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def synthetic_images(labels, rng):
    """Learnable pictures: each class has its own colour, far from the others, plus noise."""
    palette = np.array([[40, 40, 40], [215, 40, 40], [40, 215, 40], [40, 40, 215], [215, 215, 40],
                        [215, 40, 215], [40, 215, 215], [215, 215, 215], [128, 128, 40], [40, 128, 128]])
    images = palette[labels][:, :, None, None] + rng.normal(0, 25, size=(len(labels), 3, 32, 32))
    return np.clip(images, 0, 255).astype(np.uint8)


def write_batch(path, images, labels):
    entry = {"batch_label": path.name, "labels": [int(y) for y in labels],
             "data": images.reshape(len(images), -1), "filenames": [f"{i}.png" for i in range(len(labels))]}
    with open(path, "wb") as f:
        pickle.dump(entry, f, protocol=2)


def write_synthetic_cifar(root, per_batch=1000, seed=0):
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in BATCH_FILES:
        labels = rng.permutation(np.arange(per_batch) % 10)
        write_batch(folder / name, synthetic_images(labels, rng), labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                     "frog", "horse", "ship", "truck"]}, f, protocol=2)
    return folder


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory):
    """A data dir holding 5,000 synthetic training and 1,000 test images; never modify it."""
    root = tmp_path_factory.mktemp("synthetic")
    write_synthetic_cifar(root)
    return root


@pytest.fixture
def fresh_cifar_root(tmp_path):
    """A private synthetic data dir that a test may damage."""
    write_synthetic_cifar(tmp_path, per_batch=100)
    return tmp_path


@pytest.fixture(scope="session")
def real_root():
    path = REAL_DATA_DIR
    if not path or not (Path(path) / "cifar-10-batches-py" / "test_batch").is_file():
        pytest.skip("real-data test: set CIFAR10_DIR to a folder holding cifar-10-batches-py/ "
                    "(build one with python ../shared/cifar10/build_batches.py DIR)")
    return Path(path)


# Fixtures that train or run the scripts: a test that uses one is end to end (the e2e tier).
END_TO_END_FIXTURES = {"smoke_run", "trained"}


def pytest_collection_modifyitems(items):
    for item in items:
        if END_TO_END_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


def run_script(script, *args, cwd=REPO):
    """Run a script as a user would; return the CompletedProcess (text output)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / script), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """README's smoke run of every question (`python -m common.everything --quick`), made once
    for the session on a small synthetic CIFAR-10 (1,250 training pictures): the end-to-end
    tests of the report, the dropout sweep and the 1.3.7 recipes read its outputs. Tests that
    change what it wrote work on a copy (`copy_smoke_run`)."""
    root = tmp_path_factory.mktemp("smoke")
    write_synthetic_cifar(root / "data", per_batch=250)
    result = subprocess.run([sys.executable, "-m", "common.everything", "--device", "cpu", "--quick",
                             "--out", root / "out", "--data-dir", root / "data", "--skip-checksum",
                             "--checkpoint-dir", root / "ckpt"], cwd=REPO, capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return SimpleNamespace(root=root, out=root / "out", data=root / "data", ckpt=root / "ckpt", result=result)


def copy_smoke_run(smoke, to):
    """A copy of the smoke run's outputs and checkpoints under `to`, for a test that changes them."""
    import shutil
    for name in ("out", "ckpt"):
        shutil.copytree(smoke.root / name, Path(to) / name)
    return SimpleNamespace(root=Path(to), out=Path(to) / "out", data=smoke.data, ckpt=Path(to) / "ckpt",
                           result=smoke.result)
