"""CIFAR-10 as tensors: loading, checksums, normalization, the train/validation split, augmentation.

The whole data set is held as one uint8 tensor (N x 3 x 32 x 32) per part; training
batches are slices of a shuffled index, so no per-image Python runs in the hot path.
"""
import hashlib
import io
import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import random_split
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import check_integrity, download_and_extract_archive, extract_archive

from .config import CLASSES, GIVEN_MEAN, GIVEN_STD, QUICK_TEST, QUICK_TRAIN, QUICK_VAL, default_data_dir  # noqa: F401
from .errors import DataError, UsageError

BASE_FOLDER = CIFAR10.base_folder  # "cifar-10-batches-py"


def batch_files():
    """[(name, published MD5)] of the five training batches and the test batch, read from
    torchvision each time (the download tests point it at a local copy)."""
    return CIFAR10.train_list + CIFAR10.test_list


class UncheckedCIFAR10(CIFAR10):
    """torchvision's CIFAR10 that accepts batch files whose MD5 differs (a re-encoded copy)."""

    def _check_integrity(self):
        return not _missing_files(Path(self.root) / self.base_folder)

    def _load_meta(self):
        # batches.meta is checked by MD5 too; the class names are known without it.
        self.classes = list(CLASSES)
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


@dataclass
class Cifar10:
    train_images: torch.Tensor  # uint8, 50000 x 3 x 32 x 32
    train_labels: torch.Tensor  # int64
    test_images: torch.Tensor
    test_labels: torch.Tensor
    root: str
    checksum_verified: bool


def _how_to_get_it(root):
    return (f"Fix: run once with network access (without --offline) to download it there; "
            f"or pass --data-dir pointing at a folder that already holds {BASE_FOLDER}/; "
            f"or place cifar-10-python.tar.gz in {root}. On machines without internet, build "
            f"the bundled copy with `python ../shared/cifar10/build_batches.py {root}` and add "
            f"--skip-checksum.")


def _missing_files(folder):
    return [name for name, _ in batch_files() if not (folder / name).is_file()]


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
        _download(root)
    missing = _missing_files(folder)
    if missing:
        raise DataError(f"{folder} is still missing {', '.join(missing)} after unpacking. "
                        f"{_how_to_get_it(root)}")


def _download(root):
    """torchvision's download, MD5 check and unpacking, into a scratch folder inside root
    that is moved into place only when all of it worked: a failed download leaves nothing
    behind (not even root, if this made it) that the next run could take for data."""
    made_root = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
    except OSError as err:
        raise DataError(f"Cannot create the data folder {root} ({err.strerror}). Pass --data-dir "
                        f"with a folder you can write to.") from None
    try:
        download_and_extract_archive(CIFAR10.url, str(scratch), filename=CIFAR10.filename,
                                     md5=CIFAR10.tgz_md5)
        if _missing_files(scratch / BASE_FOLDER):
            raise RuntimeError(f"the archive lacks {', '.join(_missing_files(scratch / BASE_FOLDER))}")
        os.replace(scratch / BASE_FOLDER, root / BASE_FOLDER)
        os.replace(scratch / CIFAR10.filename, root / CIFAR10.filename)
    except Exception as err:  # URLError, HTTPError, timeouts, a bad or truncated archive
        reason = "its MD5 differs from the published one, so it is damaged or not CIFAR-10" \
            if "corrupted" in str(err) or "MD5" in str(err) else f"{type(err).__name__}: {err}"
        raise DataError(f"Downloading CIFAR-10 from {CIFAR10.url} into {root} failed ({reason}); "
                        f"nothing of it was kept. {_how_to_get_it(root)}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if made_root and not any(root.iterdir()):
            root.rmdir()


class Refused(pickle.UnpicklingError):
    """A batch file asked to build something a CIFAR-10 batch never holds."""


class _BatchUnpickler(pickle.Unpickler):
    """Builds only what a CIFAR-10 batch holds: dicts, lists, strings, bytes, numbers and
    numpy's reconstruction of an integer array. Anything else (a pickle that would call
    os.system, say) is refused before any of it runs."""

    def find_class(self, module, name):
        allowed = ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise Refused(f"it asks to build {module}.{name}, which a CIFAR-10 batch never holds")
        return allowed


def _integer_dtype(spec, *args):
    dtype = np.dtype(spec)
    if dtype.kind not in "ui":
        raise Refused(f"it holds an array of {dtype}, not of whole numbers")
    return dtype


def _reconstruct(cls, shape, typecode):
    if cls is not np.ndarray:
        raise Refused(f"it asks to build a {cls!r}, not a numpy array")
    return np.ndarray(shape, np.uint8)  # its pixels and dtype come next, through __setstate__


def _latin1(text, encoding="latin1"):
    if encoding not in ("latin1", "latin-1"):
        raise Refused(f"it encodes text as {encoding!r}")
    return text.encode("latin1")


def _frombuffer(buffer, dtype, shape, order):
    return np.frombuffer(buffer, _integer_dtype(dtype)).reshape(shape, order=order)


ALLOWED_GLOBALS = {
    **{
        (module, "_reconstruct"): _reconstruct
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    },
    **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _integer_dtype,
    ("_codecs", "encode"): _latin1,  # how Python 3 writes bytes under protocol 2
}


def unpickle_batch(path, encoding="latin1"):
    """One batch file's dict, through _BatchUnpickler."""
    with open(path, "rb") as f:
        return _BatchUnpickler(io.BufferedReader(f), encoding=encoding).load()


def _load_batch(path):
    """One batch file of the original pickle layout -> (uint8 N x 3 x 32 x 32, int64 N)."""
    try:
        entry = unpickle_batch(path)
    except Refused as err:
        raise DataError(f"{path} was refused: {err}. A CIFAR-10 batch file holds only arrays "
                        f"of pixels, labels and names, so this one is damaged or was made to "
                        f"run code; nothing in it was run. Delete the folder and download or "
                        f"build it again from a source you trust.") from None
    except Exception as err:  # truncated file, not a pickle
        raise DataError(f"{path} is unreadable ({type(err).__name__}: {err}); it is probably "
                        f"truncated or not a CIFAR-10 batch. Delete the folder and download or "
                        f"build it again.") from None
    try:
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = np.asarray(entry["labels"] if "labels" in entry else entry["fine_labels"])
    except Exception as err:  # missing keys, not a dict
        raise DataError(f"{path} does not hold a CIFAR-10 batch ({type(err).__name__}: {err}); "
                        f"a batch is a dict with 'data' and 'labels'. Delete the folder and "
                        f"download or build it again.") from None
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
        for name, md5 in batch_files():
            if not check_integrity(str(folder / name), md5):
                raise DataError(f"{folder / name} does not match the published MD5 {md5}. A "
                                f"re-encoded copy (such as ../shared/cifar10) differs on purpose: "
                                f"add --skip-checksum to use it, and its results will say the "
                                f"checksum was not verified. Otherwise delete the folder and "
                                f"download it again.")
    train = [_load_batch(folder / name) for name, _ in CIFAR10.train_list]
    test_images, test_labels = _load_batch(folder / CIFAR10.test_list[0][0])
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


def split_indices(n_total, n_val, seed, how="random"):
    """The train/validation split of 1.1.4 as two index tensors: a seeded random_split
    (how="random", the report's), or the last n_val images held out (how="last", the
    course sheet's: train on the first 49,000, validate on the last 1,000)."""
    if not 0 < n_val < n_total:  # the one check of --val-size against the images there are
        raise UsageError(f"--val-size {n_val} leaves no training images out of {n_total}; "
                         f"choose a smaller one.")
    if how == "last":
        return torch.arange(n_total - n_val), torch.arange(n_total - n_val, n_total)
    generator = torch.Generator().manual_seed(seed)
    train, val = random_split(range(n_total), [n_total - n_val, n_val], generator=generator)
    return torch.tensor(train.indices), torch.tensor(val.indices)


def load_data(args):
    """The data set a script's arguments ask for (a subset under --quick) and its
    train/validation split (--val-size, --val-split, --seed)."""
    data = load_cifar10(args.data_dir, args.offline, args.skip_checksum)
    return subset_and_split(data, seed=args.seed, val_size=args.val_size, val_split=args.val_split,
                            quick=args.quick)


def subset_and_split(data, *, seed, val_size, val_split="random", quick=False):
    """(data, train indices, validation indices) of a run: a smoke run's seeded subset under quick
    (holding out at most QUICK_VAL), then the split (common.verify replays records through it)."""
    if quick:
        data = subset_for_quick(data, QUICK_TRAIN, QUICK_TEST, seed)
        val_size = min(val_size, QUICK_VAL)
    train_idx, val_idx = split_indices(len(data.train_labels), val_size, seed, val_split)
    return data, train_idx, val_idx


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


def fingerprint(data, train_idx, val_idx):
    """{"train", "val", "test"}: a SHA-256 (first 16 hex digits) of each part's images and labels in
    their order, so a record names the very tensors it trained on; a replay on another copy of
    CIFAR-10 (the genuine download against the JPEG copy) is then told apart from a mismatch."""
    def digest(images, labels):
        h = hashlib.sha256(images.contiguous().numpy().tobytes())
        h.update(labels.numpy().astype("int64").tobytes())
        return h.hexdigest()[:16]
    return {"train": digest(data.train_images[train_idx], data.train_labels[train_idx]),
            "val": digest(data.train_images[val_idx], data.train_labels[val_idx]),
            "test": digest(data.test_images, data.test_labels)}


def data_info(data, train_idx, val_idx):
    """A record's "data": its folder (relative, never this machine's absolute path), whether its
    checksums were verified, the sizes, and the fingerprint of the tensors (common.verify)."""
    return {"dir": portable_path(data.root), "checksum_verified": data.checksum_verified,
            "n_train": len(train_idx), "n_val": len(val_idx), "n_test": len(data.test_labels),
            "fingerprint": fingerprint(data, train_idx, val_idx)}


def portable_path(path):
    """path relative to the working folder where it lies under it, else its last part only: a record
    travels with the package, and another machine's absolute path says nothing to its reader."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name


def batches(n, batch_size, generator, device):
    """Index tensors of one epoch in a seeded random order (the last batch may be short)."""
    order = torch.randperm(n, generator=generator).to(device)
    return order.split(batch_size)


@dataclass
class DeviceData:
    """Normalized float32 images stored N x H x W x C on the device, and their labels.

    Viewed through nchw() they are N x C x H x W tensors already in channels_last
    layout, so no batch is copied to change layout where the model is channels_last too
    (model.LAYOUTS: everywhere but Apple GPUs).
    """
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def to_device(data, train_idx, val_idx, device):
    def prep(images):
        return normalize(images).permute(0, 2, 3, 1).contiguous().to(device)
    return DeviceData(prep(data.train_images[train_idx]), data.train_labels[train_idx].to(device),
                      prep(data.train_images[val_idx]), data.train_labels[val_idx].to(device),
                      prep(data.test_images), data.test_labels.to(device))


def nchw(x_nhwc):
    return x_nhwc.permute(0, 3, 1, 2)


# Training-time augmentation on whole batches of device tensors: random crops after reflect
# padding, and flips (random, or airbench's alternating ones). No Python loop over images, and
# no host sync per step: an epoch's random offsets are drawn on the host and moved at once.


def epoch_shifts(batch_sizes, generator, pad, random_flips, device):
    """Each batch's (row offsets, column offsets, flips) for one epoch: offsets of 0 to 2 * pad
    and, where random_flips, a coin per image (else flips is None: the caller's alternating ones).

    Drawn from the host generator batch by batch, in the order a per-step draw would take, so
    a seed gives the same numbers; moved to the device in one transfer, since a copy to a GPU
    per step would make the host wait for the GPU at every step.
    """
    draws = []
    for n in batch_sizes:
        draws += [torch.randint(0, 2 * pad + 1, (n,), generator=generator),
                  torch.randint(0, 2 * pad + 1, (n,), generator=generator)]
        if random_flips:
            draws.append((torch.rand(n, generator=generator) < 0.5).long())
    per_batch = 3 if random_flips else 2
    parts = torch.cat(draws).to(device).split([len(d) for d in draws])
    return [(parts[i], parts[i + 1], parts[i + 2].bool() if random_flips else None)
            for i in range(0, len(parts), per_batch)]


def augment_batch(x_nhwc, dy, dx, flip, pad):
    """Each image cropped at its offsets (dy, dx) out of the batch reflect-padded by pad pixels
    (a shift of up to pad pixels each way), and mirrored where flip is true; all on the device.

    One gather builds every crop at once: per-image row and column offsets index the
    padded batch, so no Python loop runs over images.
    """
    n, h, w, _ = x_nhwc.shape
    device = x_nhwc.device
    padded = F.pad(x_nhwc.permute(0, 3, 1, 2), (pad, pad, pad, pad), mode="reflect").permute(0, 2, 3, 1)
    rows = dy[:, None] + torch.arange(h, device=device)
    cols = dx[:, None] + torch.arange(w, device=device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)  # a mirrored crop reads columns backwards
    return padded[torch.arange(n, device=device)[:, None, None], rows[:, :, None], cols[:, None, :]]


def alternating_flips(n, seed, device):
    """airbench's flip: a seeded half of the images is mirrored in odd epochs and the other
    half in even ones, so every pair of epochs sees each image both ways (random flips leave
    a quarter of the images unmirrored or always mirrored over two epochs)."""
    first = torch.rand(n, generator=torch.Generator().manual_seed(seed + 1)) < 0.5
    return lambda epoch: (first ^ (epoch % 2 == 0)).to(device)
