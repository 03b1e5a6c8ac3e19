"""Errors and warnings a user can cause; the CLI prints them without a traceback."""


class ImpdistError(Exception):
    """Base class of every error caused by the user's input or environment."""


class ImpdistWarning(UserWarning):
    """Something was done the way the reference library does it, but the user should know."""
