"""Baselines a student is compared with: copy-the-input and truncation."""
from __future__ import annotations

import pytest

from impdist.errors import ImpdistError
from impdist.evaluation.baselines import copy_input, truncate

SOURCES = ["the city council voted on tuesday", "police arrested two men", "heavy rain caused flooding across region"]


def test_copy_and_truncate():
    assert copy_input(SOURCES) == SOURCES
    assert truncate(SOURCES, 2) == ["the city", "police arrested", "heavy rain"]
    assert truncate(["one"], 3) == ["one"]
    with pytest.raises(ImpdistError, match="at least 1 word"):
        truncate(SOURCES, 0)
