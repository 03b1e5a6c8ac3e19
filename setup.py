"""Build of impdist's compiled core.

impdist.kernels._core  C++17 + OpenMP, always built.
impdist.kernels._cuda  CUDA kernels, built when nvcc is found (IMPDIST_CUDA=1 forces, 0 skips).

Environment: IMPDIST_CUDA=0|1 skips or insists on the CUDA extension (unset: built when nvcc is
found, which suits in-place dev builds; wheels say which they want, see below);
IMPDIST_ASAN=1 builds _core with AddressSanitizer (see `make asan-test`);
IMPDIST_CUDA_ARCHS="80;90" picks the GPU architectures; CUDA_HOME locates the toolkit;
IMPDIST_OPENMP_PREFIX (macOS only) is where libomp lives (include/omp.h, lib/libomp.dylib),
else Homebrew's libomp: Apple clang has no OpenMP runtime of its own.

Wheels (`make wheel-test` checks one end to end; cibuildwheel's settings are in pyproject.toml):
  IMPDIST_CUDA=0 python -m build --wheel   # CPU only, what PyPI gets
  IMPDIST_CUDA=1 python -m build --wheel   # with impdist.kernels._cuda; fails without nvcc
A build in a tree that built with other settings before recompiles, and drops a _cuda left in
build/ by an earlier CUDA build, so a CPU wheel never ships a stale CUDA extension.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pybind11
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent.resolve()
CSRC = ROOT / "csrc"


def _flag(name: str) -> str | None:
    value = os.environ.get(name)
    if value not in (None, "", "0", "1"):
        raise SystemExit(f"{name} must be 0 or 1, got {value!r}")
    return value or None


def _cuda_home() -> Path | None:
    """The toolkit root: CUDA_HOME, else where nvcc says it lives (it may be a wrapper script)."""
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if home and (Path(home) / "bin" / "nvcc").exists():
        return Path(home)
    nvcc = shutil.which("nvcc")
    if not nvcc:
        return None
    try:
        dry = subprocess.run([nvcc, "--dryrun", "-x", "cu", "-c", os.devnull, "-o", os.devnull],
                             capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.SubprocessError):
        dry = ""
    for line in dry.splitlines():
        if line.startswith("#$ _HERE_="):
            return Path(line.split("=", 1)[1].strip()).parent
    return Path(nvcc).resolve().parent.parent


def _sources(*patterns: str) -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for pat in patterns for p in CSRC.glob(pat))


def _openmp_flags() -> tuple[list[str], list[str]]:
    """Compile and link flags for OpenMP: gcc's -fopenmp, or on macOS Apple clang's preprocessor
    flag plus an LLVM libomp (IMPDIST_OPENMP_PREFIX, else Homebrew's)."""
    if sys.platform != "darwin":
        return ["-fopenmp"], ["-fopenmp"]
    prefix = os.environ.get("IMPDIST_OPENMP_PREFIX")
    if not prefix and shutil.which("brew"):
        prefix = subprocess.run(["brew", "--prefix", "libomp"], capture_output=True, text=True).stdout.strip()
    if not prefix or not (Path(prefix) / "include" / "omp.h").exists():
        raise SystemExit("impdist needs libomp on macOS: `brew install libomp`, or set IMPDIST_OPENMP_PREFIX "
                         "to a prefix holding include/omp.h and lib/libomp.dylib")
    lib = Path(prefix) / "lib"
    return ["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"], [f"-L{lib}", "-lomp", f"-Wl,-rpath,{lib}"]


ASAN = _flag("IMPDIST_ASAN") == "1"
OMP_COMPILE, OMP_LINK = _openmp_flags()
CXX_FLAGS = ["-std=c++17", *OMP_COMPILE, "-ffp-contract=off", "-fvisibility=hidden", "-Wall", "-Wextra"]
CXX_FLAGS += ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address", "-DIMPDIST_ASAN"] if ASAN else ["-O3"]
LINK_FLAGS = OMP_LINK + (["-fsanitize=address"] if ASAN else [])
INCLUDES = [str(CSRC), str(CSRC / "include"), pybind11.get_include()]

core = Extension(
    "impdist.kernels._core",
    sources=_sources("*.cpp", "text/*.cpp"),
    depends=_sources("**/*.h"),  # a changed header rebuilds the extension
    include_dirs=INCLUDES,
    extra_compile_args=CXX_FLAGS,
    extra_link_args=LINK_FLAGS,
    language="c++",
)
extensions = [core]

cuda_choice = _flag("IMPDIST_CUDA")
cuda_home = _cuda_home() if cuda_choice != "0" else None
if cuda_choice == "1" and cuda_home is None:
    raise SystemExit("IMPDIST_CUDA=1 but nvcc was not found: install the CUDA toolkit or set CUDA_HOME")
cuda_sources = _sources("cuda/*.cpp", "cuda/*.cu")
if cuda_home is not None and cuda_sources:
    lib_dirs = [str(d) for d in (cuda_home / "lib64", cuda_home / "lib", cuda_home / "targets/x86_64-linux/lib")
                if (d / "libcudart_static.a").exists()]
    extensions.append(
        Extension(
            "impdist.kernels._cuda",
            sources=cuda_sources,
            depends=_sources("**/*.h"),
            include_dirs=INCLUDES + [str(cuda_home / "include")],
            library_dirs=lib_dirs,
            libraries=["cudart_static", "dl", "rt", "pthread"],
            extra_compile_args=[f for f in CXX_FLAGS if f != "-fsanitize=address"],
            extra_link_args=OMP_LINK,
            language="c++",
        )
    )


ALL_EXTENSIONS = ("impdist.kernels._core", "impdist.kernels._cuda")


class BuildExt(build_ext):
    """Compiles C++ sources in parallel and .cu sources with nvcc."""

    def run(self) -> None:
        # setuptools reuses build/ when sources are older than its outputs, whatever the flags were:
        # a change of settings forces a rebuild, and an extension not built now leaves the wheel.
        config = json.dumps({"cxx": CXX_FLAGS, "link": LINK_FLAGS, "extensions": [e.name for e in self.extensions],
                             "cuda_archs": os.environ.get("IMPDIST_CUDA_ARCHS", "80;90")})
        stamp = Path(self.build_temp) / "impdist-build.json"
        if not stamp.is_file() or stamp.read_text() != config:
            self.force = True
        if not self.inplace:
            for name in set(ALL_EXTENSIONS) - {e.name for e in self.extensions}:
                Path(self.build_lib, self.get_ext_filename(name)).unlink(missing_ok=True)
        super().run()
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(config)

    def build_extension(self, ext: Extension) -> None:
        cu = [s for s in ext.sources if s.endswith(".cu")]
        ext.sources = [s for s in ext.sources if not s.endswith(".cu")]
        objects = [self._nvcc(src, ext) for src in cu]
        ext.extra_objects = list(ext.extra_objects or []) + objects
        original = self.compiler.compile

        def parallel_compile(sources, *args, **kwargs):
            workers = max(1, min(len(sources), os.cpu_count() or 1))
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(lambda s: original([s], *args, **kwargs), sources))
            return [obj for part in parts for obj in part]

        self.compiler.compile = parallel_compile
        try:
            super().build_extension(ext)
        finally:
            self.compiler.compile = original

    def _nvcc(self, src: str, ext: Extension) -> str:
        assert cuda_home is not None
        out = Path(self.build_temp) / (src + ".o")
        out.parent.mkdir(parents=True, exist_ok=True)
        archs = os.environ.get("IMPDIST_CUDA_ARCHS", "80;90").split(";")
        gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs]
        gencode.append(f"-gencode=arch=compute_{archs[-1]},code=compute_{archs[-1]}")  # PTX for newer GPUs
        cmd = [str(cuda_home / "bin" / "nvcc"), "-c", src, "-o", str(out), "-std=c++17", "-O3",
               "-Xcompiler", "-fPIC,-fvisibility=hidden", *gencode]
        cmd += [f"-I{d}" for d in ext.include_dirs]
        print(" ".join(cmd))
        subprocess.check_call(cmd, cwd=ROOT)
        return str(out)


setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})
