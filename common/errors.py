"""The kinds of trouble a user can fix; the scripts print each as one paragraph and exit 2."""


class DataError(Exception):
    """A problem with a file the user has (data, checkpoint, earlier results)."""


class UsageError(Exception):
    """A problem with what the user asked for (a setting, a device, an option)."""


class OutputError(Exception):
    """An output or a checkpoint could not be written (no space, a read-only folder, a file in
    the way); the earlier file is intact."""


class Diverged(Exception):
    """The training loss stopped being a finite number: the settings made it diverge. Carries where:
    the epoch (once known) and the first and last step of the log interval it happened in."""

    def __init__(self, message="", epoch=None, first_step=None, last_step=None):
        super().__init__(message)
        self.epoch, self.first_step, self.last_step = epoch, first_step, last_step


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, with what was saved and how to go on."""
