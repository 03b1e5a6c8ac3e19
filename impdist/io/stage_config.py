"""Typed stage configs: a frozen dataclass whose canonical JSON is what the stage's manifest
stores and hashes, so `str(config)` is the config's fingerprint (datatrove's rule) and two
configs with equal JSON resume the same stage directory."""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict
from typing import Any, ClassVar, Mapping

from impdist.domains import check_fields
from impdist.io.stage import StageDir, canonical_json, open_stage


class Config:
    """Base of a config dataclass (subclasses are frozen dataclasses): `to_json()` is its stored
    form, `str()` the canonical JSON of that, `fingerprint` its sha256. Fields declared with
    impdist.domains.setting() are checked on construction (a subclass's own __post_init__ calls
    super's), so a bad value never reaches a stage."""

    def __post_init__(self) -> None:
        check_fields(self)

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (nested configs as objects)."""
        return asdict(self)

    def __str__(self) -> str:
        return canonical_json(self.to_json())

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON (for a stage config: its manifest's `config_hash`)."""
        return hashlib.sha256(str(self).encode()).hexdigest()


class StageConfig(Config):
    """A stage's config: `{"stage": <name>, **fields}` in its manifest. A subclass overrides
    `to_json` where the stored form differs from its fields: a constant of the code recorded so
    that changing it starts a new stage, or a field that changes only speed left out."""

    stage: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, **asdict(self)}

    def open(self, root: str | os.PathLike, inputs: Mapping[str, str] | None = None, *,
             fmt: str = "jsonl") -> StageDir:
        """This config's run directory of the stage under `root`: resumed, or new (open_stage)."""
        return open_stage(root, self.stage, self.to_json(), inputs, fmt=fmt)
