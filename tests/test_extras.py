"""The slim core and its extras: the kernels need only numpy and click; a command that needs a
missing extra fails with one line naming the pip install (impdist/extras.py)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

from impdist import extras
from impdist.errors import ImpdistError, MissingExtraError

# Every third-party module the extras bring; none may be imported by the core.
HEAVY = sorted({m for modules in extras.EXTRAS.values() for m in modules})
assert {"onnx_ir", "huggingface_hub"} <= set(HEAVY)


def _hide(monkeypatch, *names: str) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name.split(".")[0] in names else real(name, *a, **k))


def test_require_names_the_missing_module_and_the_pip_install(monkeypatch):
    _hide(monkeypatch, "datasketch", "faiss")
    with pytest.raises(MissingExtraError) as err:
        extras.require("models", "filters", "faiss", what="impdist filter")
    assert str(err.value) == ("impdist filter needs datasketch, faiss, which is not installed: "
                              "pip install 'impdist[filters,faiss]'")
    assert isinstance(err.value, ImpdistError) and isinstance(err.value, ModuleNotFoundError)
    extras.require("models")  # installed here: no error


def test_every_module_maps_back_to_an_extra_that_installs_it():
    for extra, modules in extras.EXTRAS.items():
        for module in modules:
            assert module in extras.EXTRAS[extras.extra_for_module(module + ".sub")]
    assert extras.extra_for_module("json") is None
    with pytest.raises(ValueError, match="unknown extra"):
        extras.missing("nope")


def _blocked_python(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter where importing any extra's module fails, as in a
    `pip install impdist` without extras."""
    blocker = textwrap.dedent(f"""
        import importlib.abc, importlib.util, sys
        HEAVY = {HEAVY!r}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in HEAVY:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Block())
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda n, *a, **k: None if n.split(".")[0] in HEAVY else real(n, *a, **k)
    """)
    return subprocess.run([sys.executable, "-c", blocker + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_the_kernels_work_without_any_extra():
    proc = _blocked_python("""
        import impdist, impdist.kernels as k
        print(k.rouge(['a b c'], ['a c'])[0][2].round(4), round(float(k.sentence_bleu(['a b c d'], ['a b c d'])[0]), 6),
              k.minhash(['a b'], num_perm=4).shape, k.self_bleu(['a b', 'a c']).shape, k.distinct_n(['a b a b']),
              k.ngram_jaccard(['a b c'], ['a b d'], n=1)[0])
        import sys
        assert not [m for m in sys.modules if m.split('.')[0] in HEAVY], 'an extra was imported'
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:2] == ["0.8", "100.0"]


@pytest.mark.parametrize("args, extra", [
    (["generate", "--contexts", "2"], "models"),
    (["filter", "--rethreshold"], "filters"),
    (["run"], "models"),
    (["evaluate", "--data", "mrpc-dev"], "models"),
    (["judge", "calibrate", "--judge", "embedding", "--data", "mrpc-dev-labelled"], "models"),
])
def test_a_command_without_its_extra_prints_one_line_naming_it(tmp_path, args, extra):
    out = tmp_path / "out"
    proc = _blocked_python(f"""
        import sys
        from impdist.cli import main
        sys.argv = ['impdist', *{args!r}] + (['--out', {str(out)!r}] if {args[0]!r} in ('generate', 'run') else [])
        main()
    """)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"pip install 'impdist[{extra}" in lines[0]
    assert not out.exists()


def test_help_and_version_work_without_any_extra():
    proc = _blocked_python("""
        import sys
        from impdist.cli import main
        sys.argv = ['impdist', '--version']
        main()
    """)
    assert proc.returncode == 0 and "impdist, version" in proc.stdout, proc.stderr
