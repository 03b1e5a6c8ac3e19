"""A teacher: tokenizer + decode backend, loaded once per process and reused across shards."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from impdist.decoding.backend import DecoderBackend
from impdist.decoding.backends import make_backend
from impdist.decoding.sampling import newline_token_ids
from impdist.models.names import load_tokenizer


@dataclass
class Teacher:
    tokenizer: object
    backend: DecoderBackend
    newline_ids: tuple[int, ...]
    eos_ids: frozenset[int]
    pad_id: int

    def encode(self, text: str) -> list[int]:
        """Plain-text prompt ids (no chat template, no special tokens): the teacher continues text."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


@lru_cache(maxsize=2)
def load_teacher(model: str, backend: str, device: str, threads: int | None, trust_remote_code: bool) -> Teacher:
    """The teacher for (model, backend, device), built once per process."""
    tok = load_tokenizer(model, trust_remote_code=trust_remote_code)
    runtime = make_backend(model, backend, device=device, threads=threads, trust_remote_code=trust_remote_code)
    eos = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    return Teacher(tok, runtime, newline_token_ids(tok), frozenset(eos), int(pad))
