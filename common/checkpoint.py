"""A run's checkpoints: where they live, how they are written, read back and checked.

    <folder>/<name>_last.pt   everything --resume needs, after every finished epoch
    <folder>/<name>_final.pt  the final weights and their config
    <folder>/<name>_best.pt   the best-validation weights, their epoch and config

Everything is saved as plain tensors, numbers, strings, lists and dicts, and read back with
torch.load(weights_only=True): a checkpoint from elsewhere is data, never code.
"""
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import as_dict, differences, as_words
from .errors import DataError
from .files import make_folder, replaced_atomically

LAST_KEYS = {"config", "epoch", "model", "optimizer", "scheduler", "shuffle_rng", "torch_rng",
             "history", "steps", "best"}


def save(obj, path):
    with replaced_atomically(path) as tmp:
        torch.save(obj, tmp)


def load(path, wanted_keys):
    """A checkpoint's dict, its tensors on the CPU, or a DataError that says what is wrong with
    the file and what to do; the file is left where it is.

    On the CPU because the random-number states in it must stay CPU byte tensors (set_state
    takes nothing else), and load_state_dict copies weights to wherever the model lives."""
    advice = (f"The file is left as it is: move or delete {path}, or rerun without --resume to "
              f"start the run again from epoch 1.")
    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols it may not read: the error says it
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        # torch's own message advises weights_only=False, which would run the file: keep only
        # what it found wrong.
        text = " ".join(str(err).split())
        found = re.search(
            r"(?:WeightsUnpickler error:|trusted source\.)\s*(.*?)\s*(Check the documentation|$)", text
        )
        detail = found.group(1) if found else text.split(". ")[0]
        raise DataError(f"{path} could not be read as a checkpoint of this package "
                        f"({type(err).__name__}: {detail[:200]}). It is truncated, damaged, "
                        f"or holds something other than tensors and numbers (nothing in it was run). "
                        f"{advice}") from None
    if not isinstance(state, dict) or not wanted_keys <= set(state):
        found = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise DataError(f"{path} is not a checkpoint of this package, or comes from an older "
                        f"version of it (it holds {found}; a checkpoint holds "
                        f"{', '.join(sorted(wanted_keys))}). {advice}")
    return state


def mps_available():
    """Whether an Apple GPU is here, whose generator (dropout's masks there) a checkpoint keeps."""
    return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()


def plain_state(scheduler):
    """A scheduler's state without its functions: torch before 2.4 keeps OneCycleLR's
    annealing function in its state_dict, which weights_only refuses to read back; the
    scheduler rebuilt for --resume has that function already."""
    return {k: v for k, v in scheduler.state_dict().items() if not callable(v)}


def restore_device_generators(state):
    """The GPU generators' states as saved. A checkpoint from a machine with another number of
    GPUs (Kaggle's two T4s, resumed on one) restores the GPUs both machines have: a run trains
    on the first GPU, whose masks are what the checkpoint kept; a GPU the checkpoint has no
    state for keeps its seeded one."""
    cuda_states = state.get("cuda_rng")
    if torch.cuda.is_available() and cuda_states is not None:
        for index, cuda_state in enumerate(cuda_states[:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)
    if mps_available() and state.get("mps_rng") is not None:
        torch.mps.set_rng_state(state["mps_rng"])


@dataclass
class Checkpoints:
    folder: Path
    name: str

    @classmethod
    def of_run(cls, args, name):
        """A script's checkpoints of run name, in --checkpoint-dir; smoke runs keep their own."""
        return cls(args.checkpoint_dir, name + ("_quick" if args.quick else ""))

    def path(self, kind):
        return Path(self.folder) / f"{self.name}_{kind}.pt"

    def save_epoch(
        self, cfg, epoch, model, optimizer, scheduler, shuffle, history, steps, best, lookahead=None
    ):
        """Everything --resume needs to go on exactly where this epoch ended."""
        make_folder(self.folder)
        save({"config": as_dict(cfg), "epoch": epoch, "model": model.state_dict(),
              "optimizer": optimizer.state_dict(),
              "scheduler": plain_state(scheduler) if scheduler else None,
              "shuffle_rng": shuffle.get_state(), "torch_rng": torch.get_rng_state(),
              "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
              "mps_rng": torch.mps.get_rng_state() if mps_available() else None,
              "history": history, "steps": steps, "best": best,
              "lookahead": lookahead.average if lookahead else None}, self.path("last"))

    def resume(self, cfg, model, optimizer, scheduler, shuffle, lookahead=None):
        """Restore the last finished epoch: (epoch, history, steps, best), or None when there
        is no checkpoint yet. Refuses one made with other settings or another model."""
        path = self.path("last")
        if not path.is_file():
            return None
        state = load(path, LAST_KEYS)
        changed = differences(state["config"], cfg, ignore=())  # the step log must line up too
        if changed:
            raise DataError(f"--resume found {path}, but it was trained with other settings "
                            f"({', '.join(k for k, _ in changed)} differ: {', '.join(as_words(changed))}). "
                            f"Rerun with the same settings, or without --resume to start this run again "
                            f"from epoch 1.")
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if scheduler:
                scheduler.load_state_dict(state["scheduler"])
            shuffle.set_state(state["shuffle_rng"])
            if lookahead:
                for name, average in lookahead.average.items():
                    average.copy_(state["lookahead"][name])
            torch.set_rng_state(state["torch_rng"])
            restore_device_generators(state)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as error:
            raise DataError(
                f"--resume found {path}, but its weights or random-number states do not fit this "
                f"version of the model or this machine (an older package or another machine made it: "
                f"{str(error).strip().splitlines()[-1].strip()}). Move or delete that file, or rerun "
                f"without --resume to start this run again from epoch 1."
            ) from None
        return state["epoch"], state["history"], state["steps"], state["best"]

    def save_final(self, cfg, model, best):
        make_folder(self.folder)
        save({"config": as_dict(cfg), "model": model.state_dict()}, self.path("final"))
        save({"config": as_dict(cfg), "epoch": best["epoch"], "model": best["state"]}, self.path("best"))

    def final_weights(self, cfg):
        """The final weights of a finished run with cfg's settings, or None if there are none."""
        path = self.path("final")
        if not path.is_file():
            return None
        state = load(path, {"config", "model"})
        return state["model"] if not differences(state["config"], cfg) else None
