"""The tokenizer of a model folder for the decode path: transformers' AutoTokenizer when
transformers is installed, else `FastTokenizer`, which reads the folder's tokenizer.json with the
`tokenizers` library alone, so the torch-free serving install (`impdist[serve]`) needs neither
torch nor transformers.

`FastTokenizer` is the part of a transformers fast tokenizer the decode path uses (call, decode,
batch_decode, len, eos/pad ids), and gives the same ids and texts: transformers' fast tokenizers
wrap the same tokenizer.json, add the special tokens of tokenizer_config.json, and clean up
spaces before punctuation on decode when the config asks (`clean_up_tokenization_spaces`).
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Sequence

from impdist.errors import ImpdistError
from impdist.extras import install_hint
from impdist.models.names import load_tokenizer as load_transformers_tokenizer

TOKENIZER_FILE = "tokenizer.json"
_SPECIAL = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# transformers' clean_up_tokenization, in its order: spaces its decoders leave before punctuation.
_CLEAN_UP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
             (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


class FastTokenizer:
    """A tokenizer.json through `tokenizers`, with the transformers calls the decode path makes."""

    def __init__(self, folder: str | os.PathLike) -> None:
        from tokenizers import Tokenizer  # the serving install's tokenizer; transformers' fast ones wrap it

        folder = Path(folder)
        path = folder / TOKENIZER_FILE
        if not path.is_file():
            raise ImpdistError(f"{folder} holds no {TOKENIZER_FILE}, which serving without transformers needs; "
                               f"install transformers ({install_hint('models')}) or re-export the student with "
                               "`impdist export`, which writes it")
        self._tokenizer = Tokenizer.from_file(str(path))
        config = {**_read_json(folder / "special_tokens_map.json"), **_read_json(folder / "tokenizer_config.json")}
        self.clean_up_tokenization_spaces = bool(config.get("clean_up_tokenization_spaces", False))
        tokens = {name: _content(config.get(name)) for name in _SPECIAL}
        special = [t for t in tokens.values() if t is not None]
        if special:  # as transformers does at load: the named special tokens are special ones
            self._tokenizer.add_special_tokens(special)
        if tokens["pad_token"] is None:  # impdist.models.names.load_tokenizer's rule: pad = eos
            if tokens["eos_token"] is None:
                raise ImpdistError(f"the tokenizer in {folder} has neither a pad nor an eos token; "
                                   "add one to its special_tokens_map.json")
            tokens["pad_token"] = tokens["eos_token"]
        self.eos_token, self.pad_token = tokens["eos_token"], tokens["pad_token"]
        self.eos_token_id = self._token_id(self.eos_token)
        self.pad_token_id = self._token_id(self.pad_token)

    def _token_id(self, token: str | None) -> int | None:
        return None if token is None else self._tokenizer.token_to_id(token)

    def __len__(self) -> int:
        """The vocabulary with the added tokens (transformers' len(tokenizer))."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        """{"input_ids": ids} of one text, as a transformers tokenizer returns them."""
        return {"input_ids": self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids}

    def _clean(self, text: str) -> str:
        if self.clean_up_tokenization_spaces:
            for old, new in _CLEAN_UP:
                text = text.replace(old, new)
        return text

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """The text of token ids."""
        return self._clean(self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def batch_decode(self, sequences: Sequence[Sequence[int]], skip_special_tokens: bool = False) -> list[str]:
        """The text of each sequence of token ids."""
        texts = self._tokenizer.decode_batch([list(s) for s in sequences], skip_special_tokens=skip_special_tokens)
        return [self._clean(t) for t in texts]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise ImpdistError(f"{path}: not valid JSON ({e}); copy or re-export the model folder") from None
    return value if isinstance(value, dict) else {}


def _content(token: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string, or an AddedToken's dict."""
    if isinstance(token, dict):
        token = token.get("content")
    return token if isinstance(token, str) and token else None


def has_transformers() -> bool:
    """Whether transformers is installed (the full install; the serving one has `tokenizers` only)."""
    return importlib.util.find_spec("transformers") is not None


def load_tokenizer(folder: str | os.PathLike, *, trust_remote_code: bool = False):
    """The tokenizer of a local model folder: transformers' when installed, else FastTokenizer."""
    if has_transformers():
        return load_transformers_tokenizer(folder, trust_remote_code=trust_remote_code)
    return FastTokenizer(folder)
