"""Errors a user can cause around students: bad requests, foreign directories, clashing runs."""
from __future__ import annotations

from impdist.errors import ImpdistError


class StudentError(ImpdistError):
    """A student cannot be trained, loaded or asked as requested; the message says how to fix it."""


class NotAStudentError(StudentError):
    """A directory holds no student (no student.json): it was not written by `impdist train`/`export`."""


class TrainConflictError(StudentError):
    """A training directory holds a run with another config or other data than the one asked for."""
