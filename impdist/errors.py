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


class MissingExtraError(ImpdistError, ModuleNotFoundError):
    """An optional dependency is not installed; the message names the `pip install 'impdist[...]'`."""
