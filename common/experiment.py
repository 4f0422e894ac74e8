"""What the training scripts share: the data as device tensors, and a run with its figures."""
from .checkpoint import Checkpoints
from .config import QUICK_TEST, QUICK_TRAIN, QUICK_VAL, same_config
from .data import load_cifar10, split_indices, subset_for_quick
from .errors import UsageError
from .plots import plot_curves
from .results import env_info
from .train import train

QUICK_MARK = " [QUICK]"


def load_data(args):
    """The data set (a subset under --quick) and the train/validation split (--val-split)."""
    data = load_cifar10(args.data_dir, args.offline, args.skip_checksum)
    n_val = args.val_size
    if args.quick:
        data = subset_for_quick(data, QUICK_TRAIN, QUICK_TEST, args.seed)
        n_val = min(n_val, QUICK_VAL)
    if n_val >= len(data.train_labels):
        raise UsageError(f"--val-size {n_val} leaves no training images out of "
                         f"{len(data.train_labels)}; choose a smaller one.")
    train_idx, val_idx = split_indices(len(data.train_labels), n_val, args.seed, args.val_split)
    return data, train_idx, val_idx


def title(args, text):
    return text + (QUICK_MARK if args.quick else "")


def checkpoints(args, name):
    """The checkpoints of a run; quick runs keep their own."""
    return Checkpoints(args.checkpoint_dir, name + ("_quick" if args.quick else ""))


def train_and_plot(args, cfg, data, device, name, heading, figure_prefix):
    """Train one configuration and draw its loss and accuracy figures.

    Returns (result, figure names, final model); the result records the machine it ran on.
    """
    result, model, _ = train(cfg, data, device, checkpoints(args, name), resume=args.resume)
    result["env"] = env_info(device)
    return result, plot_run(args, cfg, result, heading, figure_prefix), model


def train_or_reuse(args, cfg, earlier, tensors, device, name, heading, figure_prefix, label, training_line=None):
    """Under --resume, an earlier result of cfg's settings that ran all its epochs is reused
    and its figures redrawn (no model then); otherwise cfg is trained (announced by
    training_line, if given) and plotted.

    Returns (result, figure names, final model or None).
    """
    done = finished_run(earlier, cfg) if args.resume else None
    if done:
        print(f"{label}: reusing the finished run (--resume); redrawing its figures")
        return done, plot_run(args, cfg, done, heading, figure_prefix), None
    if training_line:
        print(training_line)
    return train_and_plot(args, cfg, tensors, device, name, heading, figure_prefix)


def finished_run(earlier, cfg):
    """An earlier result of cfg's settings that ran all its epochs, for --resume; else None."""
    if not isinstance(earlier, dict) or not same_config(earlier.get("train_config"), cfg):
        return None
    history = earlier.get("history")
    return earlier if isinstance(history, dict) and len(history.get("epoch", [])) == cfg.epochs else None


def plot_run(args, cfg, result, heading, figure_prefix):
    """A run's loss and accuracy figures, from its history; returns their names."""
    figures = []
    for metric, word, suffix in (("loss", "Loss", "loss"), ("acc", "Accuracy", "accuracy")):
        figure = f"{figure_prefix}_{suffix}.png"
        plot_curves(result["history"], result["best_val_epoch"], title(args, f"{heading}: {word}"),
                    f"{args.out}/{figure}", metric, note=loss_note(cfg) if metric == "loss" else None)
        figures.append(figure)
    return figures


def loss_note(cfg):
    """Why a regularized run's training loss can sit above its validation loss."""
    causes = ([f"against label-smoothed targets (smoothing {cfg.label_smoothing}, so even a perfect "
               f"model's loss stays above 0)"] if cfg.label_smoothing else []) + \
        (["on augmented images (random crops and flips, harder than the originals)"] if cfg.augment else []) + \
        ([f"with dropout {cfg.dropout} active"] if cfg.dropout else [])
    if not (cfg.label_smoothing or cfg.augment):
        return None
    return ("Training loss sits above validation loss because it is measured during training "
            + ", ".join(causes) + "; validation uses plain targets and images in eval mode.")
