"""impdist.tasks: the one task list and its one check."""
from __future__ import annotations

import pytest

from impdist.errors import ImpdistError, UnknownTaskError
from impdist.tasks import TASKS, check_task


def test_the_tasks_pass_and_anything_else_is_one_error_naming_them():
    assert TASKS == ("paraphrase", "summary") and [check_task(t) for t in TASKS] == list(TASKS)
    with pytest.raises(UnknownTaskError, match="task must be one of paraphrase, summary, got 'Summary'") as info:
        check_task("Summary")
    assert isinstance(info.value, ImpdistError) and isinstance(info.value, ValueError)
