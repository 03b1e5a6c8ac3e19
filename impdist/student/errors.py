"""Errors a user can cause around students: bad requests, foreign directories, clashing runs."""
from __future__ import annotations

from impdist.errors import ImpdistError


class StudentError(ImpdistError):
    """A student cannot be trained, loaded or asked as requested; the message says how to fix it."""


class NotAStudentError(StudentError):
    """A directory holds no student (no student.json): it was not written by `impdist train`/`export`."""


class TrainConflictError(StudentError):
    """A training directory holds a run with another config or other data than the one asked for."""


class TextTooLongError(StudentError):
    """A text to rewrite does not fit the student's context; `index` is its place in the request,
    `where` names it for the user (``text 3``, ``input.txt:12``)."""

    def __init__(self, index: int, tokens: int, limit: int, where: str | None = None) -> None:
        self.index, self.tokens, self.limit = index, tokens, limit
        super().__init__(f"{where or f'text {index + 1}'}: {tokens} tokens with its prompt; with room for its "
                         f"output this student reads at most {limit} positions. Split the text into sentences "
                         "(a student rewrites one sentence at a time).")
