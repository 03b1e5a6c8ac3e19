"""The domains of settings: which values an option or a config field allows, declared once.

The command line's parameter types (impdist.cli) and the configs' validation (`check_fields` in a
dataclass's `__post_init__`) read the same `Domain` objects, so a flag, a `--config run.json` key
and an API argument are refused alike, with one line naming the setting and what it allows. NaN
and infinities are outside every domain.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from impdist.errors import InvalidValueError

INT_MAX = 2**31 - 1  # counts fit a C int, so no kernel or runtime overflows on a huge one


@dataclass(frozen=True)
class Domain:
    """Numbers of one kind (int or float) between `low` and `high` (open ends excluded), always
    finite; `note` says what a special value means (e.g. port 0: any free port)."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    note: str = ""

    def describe(self) -> str:
        """What the domain allows, in words: 'a positive integer', 'a number in (0, 1]'."""
        noun = "an integer" if self.kind is int else "a finite number"
        if self.high == INT_MAX:  # the C int bound of counts: named only when a value passes it
            text = "a positive integer" if self.low == 1 else f"{noun} >= {self.low}"
        elif self.low is not None and self.high is not None:
            if self.kind is int:
                text = f"{noun} from {self.low} to {self.high}"
            else:
                text = (f"a number in {'(' if self.low_open else '['}{_num(self.low)}, {_num(self.high)}"
                        f"{')' if self.high_open else ']'}")
        elif self.low is not None:
            text = f"{noun} {'>' if self.low_open else '>='} {_num(self.low)}"
        elif self.high is not None:
            text = f"{noun} {'<' if self.high_open else '<='} {_num(self.high)}"
        else:
            text = noun
        return f"{text} ({self.note})" if self.note else text

    def contains(self, value: Any) -> bool:
        """Whether value is of the kind (an int for a float domain too; never a bool) and in range."""
        if isinstance(value, bool) or not isinstance(value, (int, float) if self.kind is float else int):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def check(self, value: Any, name: str, *, optional: bool = False) -> Any:
        """value, if the domain holds it (an int given for a float comes back as a float; None
        where optional); else InvalidValueError naming `name` and the domain."""
        if value is None and optional:
            return None
        if not self.contains(value):
            raise InvalidValueError(f"{name} must be {self.allowed(value)}{' or None' if optional else ''}, "
                                    f"got {value!r}")
        return float(value) if self.kind is float else value

    def parse(self, text: str) -> int | float:
        """A command-line word as a value of the domain; InvalidValueError says what it allows."""
        try:
            value: int | float = int(text.strip(), 10) if self.kind is int else float(text)
        except (ValueError, OverflowError):
            raise InvalidValueError(f"must be {self.describe()}, got {text!r}") from None
        if not self.contains(value):
            raise InvalidValueError(f"must be {self.allowed(value)}, got {text!r}")
        return value

    def allowed(self, value: Any) -> str:
        """describe(), with the C int bound when value passes it."""
        over = isinstance(value, (int, float)) and self.high == INT_MAX and value > INT_MAX
        return f"{self.describe()} and at most {INT_MAX}" if over else self.describe()


def _num(x: float) -> str:
    """A bound as written: 1, not 1.0."""
    return str(int(x)) if float(x).is_integer() else str(x)


# --- the domains: each fact once ----------------------------------------------------------------

POSITIVE_INT = Domain(int, 1, INT_MAX)          # batch sizes, samples, counts of items, caps, workers
NON_NEGATIVE_INT = Domain(int, 0, INT_MAX)      # counts where 0 means none
SEED = Domain(int, 0, 2**32 - 1)                # numpy, torch and Philox all take it
THREADS = Domain(int, 1, 4096, note="unset: all cores")  # 0 is refused, as the kernels refuse it
PORT = Domain(int, 0, 65535, note="0: any free port")
STUDENT_MAX_LENGTH = Domain(int, 16, INT_MAX)   # tokens of prompt + target: room for a prompt
JUDGE_MAX_LENGTH = Domain(int, 8, INT_MAX)      # tokens of a judged pair
POSITIVE = Domain(float, 0, low_open=True)      # rates, temperatures, epochs, minutes, ratios
NON_NEGATIVE = Domain(float, 0)                 # weight decay
PROBABILITY = Domain(float, 0, 1)               # dropout rates: [0, 1]
FRACTION = Domain(float, 0, 1, high_open=True)  # a part of the data or schedule that leaves some: [0, 1)
INNER_FRACTION = Domain(float, 0, 1, low_open=True, high_open=True)  # both parts non-empty: (0, 1)
UNIT = Domain(float, 0, 1, low_open=True)       # top-p, ROUGE-L and similarity thresholds: (0, 1]
JUDGE_SCORE = Domain(float, -1, 1)              # a judge's score: a cosine or a probability
DIVERSITY = Domain(float, 0, 1)                 # 1 - ROUGE-L F1 to the source
COMPRESSION = POSITIVE                          # len(output) / len(source)


def setting(domain: Domain, default: Any = MISSING, *, optional: bool = False) -> Any:
    """A dataclass field whose values `check_fields` checks against `domain` (None allowed when optional)."""
    return field(default=default, metadata={"domain": domain, "optional": optional})


def domain_of(f: Field) -> Domain | None:
    """The domain a field was declared with (setting()), if any."""
    return f.metadata.get("domain")


def check_fields(obj: Any, where: str | None = None) -> None:
    """Check every field of dataclass `obj` declared with setting(); ints given to float fields
    become floats (so equal configs have equal JSON)."""
    where = where or type(obj).__name__
    for f in fields(obj):
        domain = domain_of(f)
        if domain is None:
            continue
        value = getattr(obj, f.name)
        checked = domain.check(value, f"{where}.{f.name}", optional=f.metadata["optional"])
        if type(checked) is not type(value):
            object.__setattr__(obj, f.name, checked)
