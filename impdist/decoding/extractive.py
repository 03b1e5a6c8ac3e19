"""Extractive decoding: the output may only be whole words of the source, in source order.

Sentence compression as in the Google, broadcast and BNC sets is deletion: the reference keeps
some of the source's words and drops the rest. `Extractive` restricts each next token to those
that keep the output such a deletion, so a model picks *which* words to keep and can no longer
invent, reorder or reword.

The source is cut into units: each whitespace-separated word, with its trailing punctuation as
a unit of its own (so "evidence." can lose "evidence" and keep the period). The constraint works
on the *text* of tokens, so it holds for any tokenizer and whether or not the model writes a
space before its first word:
- between units the output may go on with any later unit (after a space, unless the unit was
  attached to its word in the source), or end (EOS, a line break) once it holds a word;
- a unit once started must be finished.
Tokens whose text spans two units, or is not valid text on its own (one byte of a multi-byte
character), are never allowed; a word written only with such tokens cannot be kept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# A unit the output is aligned to: (index of the unit, the text of it still to write).
State = frozenset[tuple[int, str]]
_WORD = re.compile(r"\S+")
_TRAILING = re.compile(r"[.,;:!?'\")\]]+$")


def source_units(text: str) -> tuple[tuple[str, bool], ...]:
    """(text, attached) per unit: words, and runs of trailing punctuation attached to their word."""
    units: list[tuple[str, bool]] = []
    for m in _WORD.finditer(text):
        word = m.group()
        tail = _TRAILING.search(word)
        if tail and tail.start() > 0:
            units += [(word[: tail.start()], False), (word[tail.start():], True)]
        else:
            units.append((word, False))
    return tuple(units)


class Vocabulary:
    """Every token's text, and the ids of each text, for one tokenizer."""

    def __init__(self, tokenizer) -> None:
        ids = list(range(len(tokenizer)))
        self.text = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False)
        self.ids: dict[str, list[int]] = {}
        for i, t in enumerate(self.text):
            if t and "\ufffd" not in t:
                self.ids.setdefault(t, []).append(i)


@lru_cache(maxsize=4)
def vocabulary(tokenizer) -> Vocabulary:
    """The Vocabulary of `tokenizer`, built once (it decodes every token)."""
    return Vocabulary(tokenizer)


@dataclass(frozen=True, eq=False)
class Extractive:
    """The deletion constraint for one source; `ends` are the token ids that may end the output."""

    units: tuple[tuple[str, bool], ...]
    vocab: Vocabulary
    ends: frozenset[int]

    @classmethod
    def for_text(cls, tokenizer, text: str, ends: frozenset[int]) -> Extractive:
        return cls(source_units(text), vocabulary(tokenizer), frozenset(ends))

    def initial(self) -> State:
        """Before the first token: no unit written yet (-1)."""
        return frozenset({(-1, "")})

    def _next(self, at: int) -> list[tuple[int, str]]:
        """(unit, text to write) for every unit that may follow a finished unit `at`."""
        out = []
        for k in range(at + 1, len(self.units)):
            word, attached = self.units[k]
            out.append((k, word if attached else " " + word))
            if at < 0 and not attached:  # the first word may come without a space
                out.append((k, word))
        return out

    def _options(self, state: State) -> list[tuple[int, str]]:
        options = []
        for at, rest in state:
            options.extend([(at, rest)] if rest else self._next(at))
        return options

    def allowed(self, state: State, generated: int) -> np.ndarray:
        """Token ids that may come next from `state`; `generated` tokens are already out."""
        out: set[int] = set()
        get = self.vocab.ids.get
        for _, text in self._options(state):
            for k in range(1, len(text) + 1):
                out.update(get(text[:k], ()))
        if generated and any(not rest for _, rest in state) or not out:
            out.update(self.ends)  # between units, or nothing left to write
        return np.fromiter(sorted(out), dtype=np.int64, count=len(out))

    def advance(self, state: State, token: int) -> State:
        """The state after `token` (empty once the output has ended)."""
        piece = self.vocab.text[token]
        if not piece or token in self.ends:
            return frozenset()
        return frozenset((k, text[len(piece):]) for k, text in self._options(state) if text.startswith(piece))
