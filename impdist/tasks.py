"""The tasks impdist distils, and their one check: every stage, config and command reads them here."""
from __future__ import annotations

from impdist.errors import UnknownTaskError

TASKS = ("paraphrase", "summary")


def check_task(task: str) -> str:
    """`task` if it is one of TASKS, else UnknownTaskError naming the choices."""
    if task not in TASKS:
        raise UnknownTaskError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    return task
