"""What a user would do without a student: copy the input, truncate it, or prompt the teacher
(impdist.generate.prompted.PromptedTeacher)."""
from __future__ import annotations

from typing import Sequence

from impdist.errors import ImpdistError


def copy_input(sources: Sequence[str]) -> list[str]:
    """The identity rewrite: iBLEU's floor for paraphrase (self-BLEU 100)."""
    return list(sources)


def truncate(sources: Sequence[str], words: int) -> list[str]:
    """The first `words` whitespace tokens of each source: the summary baseline."""
    if words < 1:
        raise ImpdistError(f"truncation needs at least 1 word, got {words}")
    return [" ".join(s.split()[:words]) for s in sources]
