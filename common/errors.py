"""The two kinds of mistake a user can fix; the scripts print either as one paragraph, exit 2."""


class DataError(Exception):
    """A problem with a file the user has (data, checkpoint, earlier results)."""


class UsageError(Exception):
    """A problem with what the user asked for (a setting, a device, an option)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, with what was saved and how to go on."""
