"""Errors and warnings a user can cause; the CLI prints them without a traceback."""


class ImpdistError(Exception):
    """Base class of every error caused by the user's input or environment."""


class ImpdistWarning(UserWarning):
    """Something was done the way the reference library does it, but the user should know."""


# --- Storage layer (impdist.io): reading user input, writing shards, stage manifests. ---

class InputNotFoundError(ImpdistError, FileNotFoundError):
    """An input file the user named does not exist (or is a folder)."""


class UnsupportedFormatError(ImpdistError):
    """An input file's suffix is not one impdist can read."""


class MalformedInputError(ImpdistError):
    """An input file has a line or column impdist cannot read; the message names file:line."""


class EmptyInputError(ImpdistError):
    """An input corpus holds no texts."""


class WriteError(ImpdistError):
    """An output file could not be written (disk full, no permission); older files are intact."""


class StageConflictError(ImpdistError):
    """A stage run directory exists but its manifest holds another config or other inputs."""


class CorruptStageError(ImpdistError):
    """A stage manifest or shard was changed or damaged after impdist wrote it."""


class BusyError(ImpdistError):
    """Another impdist process is writing the stage folder, and this one was told not to wait
    (--no-wait)."""


class MissingExtraError(ImpdistError, ModuleNotFoundError):
    """An optional dependency is not installed; the message names the `pip install 'impdist[...]'`."""


class DeviceUnavailableError(ImpdistError, RuntimeError):
    """device="cuda" was asked for, but this build or this machine cannot run it (no CUDA build of
    the kernels, no GPU-enabled faiss, no visible GPU); the message says what to install or use."""


# --- Arguments: a value outside what a function accepts (still a ValueError / TypeError, so code
# that catches those keeps working). ---

class InvalidValueError(ImpdistError, ValueError):
    """A setting (option, config field or argument) is outside its domain (impdist.domains); the
    message names the setting and what it allows."""


class UnknownTaskError(ImpdistError, ValueError):
    """A task is not one impdist distils (impdist.tasks.TASKS)."""


class KernelArgumentError(ImpdistError, ValueError):
    """A kernel (impdist.kernels) was given a bad value: batches of different lengths, an unknown
    kind, scheme or option, too few texts. Raised alike by the CPU and the CUDA path."""


class KernelTypeError(ImpdistError, TypeError):
    """A kernel was given an argument of the wrong type: one str where a batch belongs, an item
    that is not a str. Raised alike by the CPU and the CUDA path."""
