"""What the training scripts share: the data as device tensors, and a run with its figures."""
from .checkpoint import Checkpoints
from .config import QUICK_TEST, QUICK_TRAIN, QUICK_VAL, as_dict, same_config
from .data import load_cifar10, split_indices, subset_for_quick
from .errors import UsageError
from .figures import draw_curves
from .results import env_info
from .train import train

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


def checkpoints(args, name):
    """The checkpoints of a run; quick runs keep their own."""
    return Checkpoints(args.checkpoint_dir, name + ("_quick" if args.quick else ""))


def train_and_plot(args, cfg, data, device, name, script, key, flags=None):
    """Train one configuration and draw its loss and accuracy figures.

    Returns (result, figure names, final model); the result records the machine it ran on.
    """
    result, model, _ = train(cfg, data, device, checkpoints(args, name), resume=args.resume)
    result["env"] = env_info(device)
    return result, plot_run(args, cfg, result, script, key, flags), model


def train_or_reuse(args, cfg, earlier, tensors, device, name, script, key, label, training_line=None, flags=None):
    """Under --resume, an earlier result of cfg's settings that ran all its epochs is reused
    and its figures redrawn (no model then); otherwise cfg is trained (announced by
    training_line, if given) and plotted. script and key name the run in its record
    (figures.heading); flags: how a 1.3.7 run differs from its recipe.

    Returns (result, figure names, final model or None).
    """
    done = finished_run(earlier, cfg) if args.resume else None
    if done:
        print(f"{label}: reusing the finished run (--resume); redrawing its figures")
        return done, plot_run(args, cfg, done, script, key, flags), None
    if training_line:
        print(training_line)
    return train_and_plot(args, cfg, tensors, device, name, script, key, flags)


def finished_run(earlier, cfg):
    """An earlier result of cfg's settings that ran all its epochs, for --resume; else None."""
    if not isinstance(earlier, dict) or not same_config(earlier.get("train_config"), cfg):
        return None
    history = earlier.get("history")
    return earlier if isinstance(history, dict) and len(history.get("epoch", [])) == cfg.epochs else None


def plot_run(args, cfg, result, script, key, flags=None):
    """A run's loss and accuracy figures, drawn as `python -m common.figures` redraws them
    from its record; returns their names."""
    run = {**result, "train_config": as_dict(cfg), "flags": flags}
    return draw_curves(args.out, script, key, run, args.quick)
