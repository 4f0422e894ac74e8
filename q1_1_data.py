"""Questions 1.1.1-1.1.4: the CIFAR-10 images, their normalization, mean_and_std, the split.

    python q1_1_data.py
    python q1_1_data.py --data-dir data --skip-checksum     # the re-encoded offline copy
"""
import time

from common import cli
from common.reporting.page import refresh_reports

SCRIPT = "q1_1_data"


def fmt(values, digits=4):
    return "(" + ", ".join(f"{float(v):+.{digits}f}" for v in values) + ")"


def agreement(given, computed):
    """The number of decimals to which two vectors agree (rounding both), for 1.1.3."""
    for decimals in range(6, 0, -1):
        if all(round(g, decimals) == round(float(c), decimals) for g, c in zip(given, computed)):
            return decimals
    return 0


def decimals(n):
    return f"{n} decimal{'s' if n != 1 else ''}"


def main():
    args = cli.parse(cli.base_parser(__doc__))
    # Heavy imports after parsing: --help answers at once.
    import torch
    from common.data import CLASSES, GIVEN_MEAN, GIVEN_STD, data_info, load_data, mean_and_std, normalize
    from common.reporting.figures import SAMPLE_INDICES, draw_samples
    from common.results import write_record
    started = time.perf_counter()
    device = torch.device("cpu")  # statistics of 60,000 images need no accelerator
    data, train_idx, val_idx = load_data(args)
    n_train, n_test = len(data.train_labels), len(data.test_labels)
    shape = list(data.train_images.shape[1:])

    print(f"1.1.1 {n_train} training images and {n_test} test images of shape {shape}, "
          f"{len(CLASSES)} classes: {', '.join(CLASSES)}")
    figure = draw_samples(args.out, data, args.quick)

    normalized_mean, normalized_std = mean_and_std(normalize(data.train_images, dtype=torch.float64))
    print(f"1.1.2 after normalization with the given constants: mean {fmt(normalized_mean)}, "
          f"std {fmt(normalized_std)} (report: mean about (0, -2e-4, 1e-4), std (1.000, 1.002, 1.002))")

    computed_mean, computed_std = mean_and_std(data.train_images)
    mean_digits, std_digits = agreement(GIVEN_MEAN, computed_mean), agreement(GIVEN_STD, computed_std)
    print(
        f"1.1.3 mean_and_std of the raw training images: mean {fmt(computed_mean, 5)}, std "
        f"{fmt(computed_std, 5)}"
    )
    print(f"      given: mean {fmt(GIVEN_MEAN, 5)}, std {fmt(GIVEN_STD, 5)}")
    print(
        f"      the given mean agrees to {decimals(mean_digits)} "
        "(largest difference "
        f"{float((computed_mean - torch.tensor(GIVEN_MEAN, dtype=torch.float64)).abs().max()):.5f}), "
        f"the given std to {decimals(std_digits)} "
        "(largest difference "
        f"{float((computed_std - torch.tensor(GIVEN_STD, dtype=torch.float64)).abs().max()):.5f})"
        + (
            ""
            if data.checksum_verified
            else "; this copy's checksums were not verified, so "
            "its pixels may differ slightly from the original files"
        )
    )

    how = f"random_split (seed {args.seed})" if args.val_split == "random" else "the last images held out"
    print(f"1.1.4 {how}: {len(train_idx)} training and {len(val_idx)} validation images")
    results = {"n_train_images": n_train, "n_test_images": n_test, "image_shape": shape,
               "given_mean": list(GIVEN_MEAN), "given_std": list(GIVEN_STD),
               "computed_mean": computed_mean.tolist(), "computed_std": computed_std.tolist(),
               "mean_agrees_to_decimals": mean_digits, "std_agrees_to_decimals": std_digits,
               "normalized_mean": normalized_mean.tolist(), "normalized_std": normalized_std.tolist(),
               "split": {"train": len(train_idx), "val": len(val_idx), "how": args.val_split},
               "sample_indices": SAMPLE_INDICES}
    path = write_record(args, SCRIPT, device, data_info(data, train_idx, val_idx), results, [figure], started)
    print(f"wrote {args.out}/{figure} and {path}")
    return args.out


if __name__ == "__main__":
    cli.run(main, then=refresh_reports)
