"""CIFAR-10 as tensors: loading, checksums, normalization, the train/validation split.

The whole data set is held as one uint8 tensor (N x 3 x 32 x 32) per part; training
batches are slices of a shuffled index, so no per-image Python runs in the hot path.
"""
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import random_split
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import check_integrity, extract_archive

CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# The constants "given in the exercises" (report 1.1.2).
GIVEN_MEAN = (0.4914, 0.4822, 0.4465)
GIVEN_STD = (0.247, 0.243, 0.261)

BASE_FOLDER = CIFAR10.base_folder  # "cifar-10-batches-py"
TRAIN_FILES = CIFAR10.train_list
TEST_FILES = CIFAR10.test_list


class UncheckedCIFAR10(CIFAR10):
    """torchvision's CIFAR10 that accepts batch files whose MD5 differs (a re-encoded copy)."""

    def _check_integrity(self):
        return not _missing_files(Path(self.root) / self.base_folder)

    def _load_meta(self):
        # batches.meta is checked by MD5 too; the class names are known without it.
        self.classes = list(CLASSES)
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


class DataError(Exception):
    """A problem with the data a user can fix; the scripts print it without a traceback."""


@dataclass
class Cifar10:
    train_images: torch.Tensor  # uint8, 50000 x 3 x 32 x 32
    train_labels: torch.Tensor  # int64
    test_images: torch.Tensor
    test_labels: torch.Tensor
    root: str
    checksum_verified: bool


def default_data_dir():
    return os.environ.get("CIFAR10_DIR") or "data"


def _how_to_get_it(root):
    return (f"Fix: run once with network access (without --offline) to download it there; "
            f"or pass --data-dir pointing at a folder that already holds {BASE_FOLDER}/; "
            f"or place cifar-10-python.tar.gz in {root}. On machines without internet, build "
            f"the bundled copy with `python ../shared/cifar10/build_batches.py {root}` and add "
            f"--skip-checksum.")


def _missing_files(folder):
    return [name for name, _ in TRAIN_FILES + TEST_FILES if not (folder / name).is_file()]


def _fetch(root, offline):
    """Make sure root/cifar-10-batches-py/ holds every batch file, downloading if allowed."""
    folder = root / BASE_FOLDER
    missing = _missing_files(folder)
    if not missing:
        return
    archive = root / CIFAR10.filename
    if archive.is_file():
        if not check_integrity(str(archive), CIFAR10.tgz_md5):
            raise DataError(f"{archive} is not the published CIFAR-10 archive (its MD5 differs "
                            f"from {CIFAR10.tgz_md5}); it may be truncated. Delete it and "
                            f"download it again. {_how_to_get_it(root)}")
        extract_archive(str(archive), str(root))
    elif offline:
        raise DataError(f"CIFAR-10 not found: {folder} is missing {', '.join(missing)} and "
                        f"--offline forbids downloading. {_how_to_get_it(root)}")
    else:
        try:
            root.mkdir(parents=True, exist_ok=True)
            CIFAR10(str(root), train=True, download=True)
        except Exception as err:  # URLError, HTTPError, socket timeouts, a bad archive
            raise DataError(f"Downloading CIFAR-10 into {root} failed ({type(err).__name__}: "
                            f"{err}). {_how_to_get_it(root)}") from None
    missing = _missing_files(folder)
    if missing:
        raise DataError(f"{folder} is still missing {', '.join(missing)} after unpacking. "
                        f"{_how_to_get_it(root)}")


def _load_batch(path):
    """One batch file of the original pickle layout -> (uint8 N x 3 x 32 x 32, int64 N)."""
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = np.asarray(entry["labels"] if "labels" in entry else entry["fine_labels"])
    except Exception as err:  # truncated file, not a pickle, missing keys
        raise DataError(f"{path} is unreadable ({type(err).__name__}: {err}); it is probably "
                        f"truncated or not a CIFAR-10 batch. Delete the folder and download or "
                        f"build it again.") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise DataError(f"{path} holds an array of shape {data.shape} with {len(labels)} labels; "
                        f"a CIFAR-10 batch holds N x 3072 pixels and N labels. Delete the folder "
                        f"and download or build it again.")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path} has labels from {labels.min()} to {labels.max()}; CIFAR-10 "
                        f"labels are 0-9. Is this CIFAR-100 or a damaged file? Delete the "
                        f"folder and download or build it again.")
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    return images, torch.from_numpy(labels.astype(np.int64))


def load_cifar10(data_dir=None, offline=False, skip_checksum=False):
    """Load all 60,000 images as tensors, downloading and verifying through torchvision."""
    root = Path(data_dir or default_data_dir()).expanduser()
    _fetch(root, offline)
    folder = root / BASE_FOLDER
    if not skip_checksum:
        for name, md5 in TRAIN_FILES + TEST_FILES:
            if not check_integrity(str(folder / name), md5):
                raise DataError(f"{folder / name} does not match the published MD5 {md5}. A "
                                f"re-encoded copy (such as ../shared/cifar10) differs on purpose: "
                                f"add --skip-checksum to use it, and its results will say the "
                                f"checksum was not verified. Otherwise delete the folder and "
                                f"download it again.")
    train = [_load_batch(folder / name) for name, _ in TRAIN_FILES]
    test_images, test_labels = _load_batch(folder / TEST_FILES[0][0])
    return Cifar10(torch.cat([x for x, _ in train]), torch.cat([y for _, y in train]),
                   test_images, test_labels, str(root.resolve()), not skip_checksum)


def mean_and_std(images):
    """Per-channel mean and population std over N x C x H x W images, in float64.

    uint8 images are put on the [0,1] scale first. float64 accumulation keeps the
    fourth decimal of 150 million pixel values exact, which the report's check needs.
    """
    x = images.to(torch.float64)
    if images.dtype == torch.uint8:
        x = x / 255.0
    var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
    return mean, var.sqrt()


def normalize(images, mean=GIVEN_MEAN, std=GIVEN_STD, dtype=torch.float32):
    """uint8 (or [0,1] float) images -> (x - mean) / std per channel."""
    x = images.to(dtype)
    if images.dtype == torch.uint8:
        x = x / 255.0
    shape = (1, -1, 1, 1)
    return (x - torch.tensor(mean, dtype=dtype, device=x.device).view(shape)) / \
        torch.tensor(std, dtype=dtype, device=x.device).view(shape)


def split_indices(n_total, n_val, seed):
    """The seeded train/validation split of the report (1.1.4), as two index tensors."""
    if not 0 < n_val < n_total:
        raise DataError(f"--val-size must be between 1 and {n_total - 1} (got {n_val}).")
    generator = torch.Generator().manual_seed(seed)
    train, val = random_split(range(n_total), [n_total - n_val, n_val], generator=generator)
    return torch.tensor(train.indices), torch.tensor(val.indices)


def subset_for_quick(data, n_train, n_test, seed=0):
    """A smaller Cifar10 for --quick runs: a seeded random subset of each part.

    Random, not the first images, because a file may be sorted by class (the bundled
    copy's test batch is), and the first thousand would then be one class.
    """
    g = torch.Generator().manual_seed(seed)
    tr = torch.randperm(len(data.train_labels), generator=g)[:n_train].sort().values
    te = torch.randperm(len(data.test_labels), generator=g)[:n_test].sort().values
    return Cifar10(data.train_images[tr], data.train_labels[tr], data.test_images[te],
                   data.test_labels[te], data.root, data.checksum_verified)


def batches(n, batch_size, generator, device):
    """Index tensors of one epoch in a seeded random order (the last batch may be short)."""
    order = torch.randperm(n, generator=generator).to(device)
    return order.split(batch_size)
