"""The bundled CIFAR-10 copy, made small enough to travel to the remote GPU machine.

    python .ci/gpu_data.py pack ../shared/cifar10 carry      # here: carry/ (about 20 MB)
    python .ci/gpu_data.py unpack carry                      # there: carry/cifar10_jpeg.npz again

The 60,000 JPEG files of cifar10_jpeg.npz (56 MB) all open with the same 609 bytes (quality-75
tables and headers); that machine takes at most 64 MiB of working tree and carried files, so
the shared opening is stored once. Unpacking rebuilds the same JPEG bytes, checked by SHA-256.
"""
import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np

PACKED = "cifar10_headless.npz"


def pack(shared, carry):
    shared, carry = Path(shared), Path(carry)
    source = np.load(shared / "cifar10_jpeg.npz")
    jpeg, offsets = source["jpeg"], source["offsets"]
    files = [jpeg[a:b].tobytes() for a, b in zip(offsets[:-1], offsets[1:])]
    opening = files[0]
    for f in files[1:]:  # the longest opening every file shares
        while not f.startswith(opening):
            opening = opening[:-1]
    bodies = b"".join(f[len(opening):] for f in files)
    carry.mkdir(parents=True, exist_ok=True)
    np.savez(
        carry / PACKED,
        opening=np.frombuffer(opening, np.uint8),
        bodies=np.frombuffer(bodies, np.uint8),
        offsets=offsets - np.arange(len(offsets)) * len(opening),
        labels=source["labels"],
        is_test=source["is_test"],
        sha256=np.frombuffer(hashlib.sha256(jpeg.tobytes()).digest(), np.uint8),
    )
    shutil.copy(shared / "build_batches.py", carry / "build_batches.py")
    print(f"packed {len(files)} JPEG files sharing a {len(opening)}-byte opening: "
          f"{(carry / PACKED).stat().st_size / 2**20:.1f} MiB in {carry / PACKED}")


def unpack(carry):
    carry = Path(carry)
    packed = np.load(carry / PACKED)
    opening, bodies, offsets = packed["opening"].tobytes(), packed["bodies"].tobytes(), packed["offsets"]
    jpeg = np.frombuffer(b"".join(opening + bodies[a:b] for a, b in zip(offsets[:-1], offsets[1:])), np.uint8)
    if hashlib.sha256(jpeg.tobytes()).digest() != packed["sha256"].tobytes():
        sys.exit(f"error: {carry / PACKED} does not unpack to the bundled JPEG files (SHA-256 differs); "
                 f"pack it again with: python .ci/gpu_data.py pack ../shared/cifar10 {carry}")
    np.savez(carry / "cifar10_jpeg.npz", jpeg=jpeg, offsets=offsets + np.arange(len(offsets)) * len(opening),
             labels=packed["labels"], is_test=packed["is_test"])
    print(f"unpacked {len(offsets) - 1} JPEG files into {carry / 'cifar10_jpeg.npz'} (SHA-256 checked)")


if __name__ == "__main__":
    command, *paths = sys.argv[1:]
    {"pack": pack, "unpack": unpack}[command](*paths)
