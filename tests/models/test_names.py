"""impdist.models: resolving model arguments, and impdist.io.cache: keyed, atomic, race-safe artefacts."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from impdist.models import names as models
from impdist.models.embedded import Embedded
from impdist.io import atomic, cache
from impdist.models import onnx_export as export
from impdist.errors import ImpdistError
from impdist.models.names import ModelNotFoundError
from tests.tiny_models import tiny_llama_dir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_llama_dir(tmp_path_factory.mktemp("tiny") / "llama")


def _assert_three_ways(err: ModelNotFoundError) -> None:
    text = str(err)
    assert "1. an embedded name: smollm2-135m" in text and "minilm-l6" in text
    assert "2. a local directory" in text
    assert "3. a Hugging Face Hub id" in text


# --- resolution ---------------------------------------------------------------------------------

def test_embedded_teacher_resolves_to_the_packaged_gguf():
    r = models.resolve("smollm2-135m")
    assert r.kind == "gguf" and r.role == "causal-lm"
    assert r.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and r.path.is_file()
    assert r.identity.startswith("gguf:") and len(r.identity) == len("gguf:") + 64


def test_embedded_embedding_model_resolves_to_its_directory():
    r = models.resolve("minilm-l6")
    assert r.kind == "dir" and r.role == "embedding"
    assert (r.path / "config.json").is_file() and (r.path / "modules.json").is_file()
    assert models.embedding_model_dir("minilm-l6") == r.path


def test_roles_are_checked():
    with pytest.raises(ModelNotFoundError, match="embedding model is needed"):
        models.embedding_model_dir("smollm2-135m")
    with pytest.raises(ModelNotFoundError, match="causal-lm model is needed"):
        models.onnx_model_dir("minilm-l6", int8=False)


def test_local_directory_resolves(tiny):
    r = models.resolve(str(tiny))
    assert r.kind == "dir" and r.path == tiny.resolve() and r.role == "any"
    assert models.resolve(str(tiny)).identity == r.identity


def test_unknown_name_offline_raises_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as info:
        models.resolve("nobody/no-such-model-xyz")
    assert "HF_HUB_OFFLINE is set" in str(info.value)
    _assert_three_ways(info.value)
    assert isinstance(info.value, ImpdistError)


@pytest.mark.parametrize("arg", ["./missing-model-dir", "/no/such/dir", "not a valid id!", "a/b/c"])
def test_bad_paths_and_ids_raise_with_the_three_ways(arg, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as info:
        models.resolve(arg)
    _assert_three_ways(info.value)


def test_near_miss_of_an_embedded_name_gets_a_hint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="did you mean 'smollm2-135m'"):
        models.resolve("smollm2-135")


def test_directory_without_config_is_refused(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelNotFoundError, match="config.json"):
        models.resolve(str(tmp_path))


def test_missing_embedded_package_says_what_to_install(monkeypatch):
    fake = Embedded("impdist_no_such_pkg", "impdist-no-such-pkg", "m.gguf", "causal-lm")
    monkeypatch.setitem(models.EMBEDDED, "fake-lm", fake)
    with pytest.raises(ModelNotFoundError, match="pip install impdist-no-such-pkg"):
        models.resolve("fake-lm")


# --- the cache ----------------------------------------------------------------------------------

def test_cache_dir_follows_the_environment(cache_root, monkeypatch):
    assert cache.cache_dir() == cache_root and cache_root.is_dir()
    monkeypatch.delenv("IMPDIST_CACHE")
    assert cache.cache_dir() == Path.home() / ".cache" / "impdist"


def test_key_depends_on_source_and_options():
    assert cache.cache_key("a", x=1) == cache.cache_key("a", x=1)
    assert len({cache.cache_key("a", x=1), cache.cache_key("b", x=1), cache.cache_key("a", x=2)}) == 3


def test_dir_identity_changes_when_a_file_changes(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    before = cache.dir_identity(tmp_path)
    assert cache.dir_identity(tmp_path) == before
    st = (tmp_path / "config.json").stat()
    os.utime(tmp_path / "config.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert cache.dir_identity(tmp_path) != before


def test_artefact_is_built_once_and_reused(cache_root):
    calls = []

    def build(out: Path) -> None:
        calls.append(out)
        (out / "data.txt").write_text("built")

    first = cache.artefact("kind", "some/model", "k1", build)
    second = cache.artefact("kind", "some/model", "k1", build)
    assert first == second and len(calls) == 1
    assert (first / "data.txt").read_text() == "built"
    assert first.parent == cache_root / "kind" and first.name == "some_model-k1"
    assert [p.name for p in first.parent.iterdir() if p.name.startswith(".tmp")] == []


def test_failed_build_leaves_nothing_behind(cache_root):
    def build(out: Path) -> None:
        (out / "half.txt").write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cache.artefact("kind", "m", "k2", build)
    assert [p.name for p in (cache_root / "kind").iterdir() if not p.name.endswith(".lock")] == []


def test_a_crashed_build_is_cleaned_up_by_the_next(cache_root):
    stale = cache_root / "kind" / ".tmp-m-k5-dead"
    stale.mkdir(parents=True)
    (stale / "half.bin").write_bytes(b"x")
    final = cache.artefact("kind", "m", "k5", lambda out: (out / "ok").write_text("ok"))
    assert not stale.exists() and (final / "ok").is_file()


def test_racing_builders_build_once(cache_root):
    calls, results = [], []

    def build(out: Path) -> None:
        calls.append(1)
        time.sleep(0.2)  # the others arrive while this build is under way
        (out / "data.txt").write_text(str(len(calls)))

    threads = [threading.Thread(target=lambda: results.append(cache.artefact("kind", "m", "k3", build)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1
    assert (results[0] / "data.txt").read_text() == "1"


def test_lockless_race_loser_keeps_the_winners_copy(cache_root, monkeypatch):
    monkeypatch.setattr(atomic, "fcntl", None)  # as on a platform without flock
    final = cache_root / "kind" / "m-k4"

    def build(out: Path) -> None:
        (out / "data.txt").write_text("loser")
        final.mkdir(parents=True)  # another process finished first
        (final / "data.txt").write_text("winner")

    assert cache.artefact("kind", "m", "k4", build) == final
    assert (final / "data.txt").read_text() == "winner"
    assert [p.name for p in final.parent.iterdir() if p.name.startswith(".tmp")] == []


# --- loading and exports of a tiny local model --------------------------------------------------

def test_load_causal_lm_sets_a_pad_token(tiny):
    model, tokenizer = models.load_causal_lm(str(tiny))
    assert not model.training and next(model.parameters()).dtype.is_floating_point
    assert tokenizer.pad_token == tokenizer.eos_token == "</s>"


def test_onnx_export_is_cached_and_int8_reuses_it(tiny, cache_root, monkeypatch):
    counts = {"export": 0, "int8": 0}
    real_export, real_int8 = export.export_onnx, export.quantize_int8

    def spy_export(*a, **k):
        counts["export"] += 1
        return real_export(*a, **k)

    def spy_int8(*a, **k):
        counts["int8"] += 1
        return real_int8(*a, **k)

    monkeypatch.setattr(export, "export_onnx", spy_export)
    monkeypatch.setattr(export, "quantize_int8", spy_int8)
    fp32 = models.onnx_model_dir(str(tiny), int8=False)
    assert (fp32 / "model.onnx").is_file() and (fp32 / "tokenizer.json").is_file()
    mtime = (fp32 / "model.onnx").stat().st_mtime_ns
    int8 = models.onnx_model_dir(str(tiny), int8=True)
    assert models.onnx_model_dir(str(tiny), int8=False) == fp32
    assert models.onnx_model_dir(str(tiny), int8=True) == int8
    assert counts == {"export": 1, "int8": 1}
    assert (fp32 / "model.onnx").stat().st_mtime_ns == mtime
    assert fp32.is_relative_to(cache_root) and int8.is_relative_to(cache_root) and int8 != fp32
    assert (int8 / "model.onnx").stat().st_size < (fp32 / "model.onnx").stat().st_size


def test_int8_quantizes_every_weight_matmul_in_the_scheme_block_size(tiny, cache_root):
    import onnx

    graph = onnx.load(str(models.onnx_model_dir(str(tiny), int8=True) / "model.onnx"), load_external_data=False)
    weights = {i.name for i in graph.graph.initializer}
    assert not [n.name for n in graph.graph.node if n.op_type == "MatMul" and set(n.input) & weights]
    quantized = [n for n in graph.graph.node if n.op_type == "MatMulNBits"]
    assert quantized and all(n.name for n in quantized)
    for n in quantized:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        assert (attrs["bits"], attrs["block_size"], attrs["accuracy_level"]) == (
            export.INT8_SCHEME["bits"], export.INT8_SCHEME["block_size"], export.INT8_SCHEME["accuracy_level"]), n.name


def test_changed_source_gets_a_new_export(tmp_path, cache_root):
    src = tiny_llama_dir(tmp_path / "m", seed=1)
    first = models.onnx_model_dir(str(src), int8=False)
    st = (src / "config.json").stat()
    os.utime(src / "config.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert models.onnx_model_dir(str(src), int8=False) != first
