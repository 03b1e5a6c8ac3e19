"""Dedup of pairs and texts: exact, MinHash-LSH near-duplicates, FAISS semantic, entailment graph.

Every *_duplicates function returns a bool mask, True = drop, with one greedy rule: in input
order, an item is dropped iff it matches an earlier item that was kept (first wins). Matches
are edges of a graph; `_first_wins` walks it, so the rule is written once.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence, Union

import numpy as np

from impdist.errors import DeviceUnavailableError
from impdist import kernels
from impdist.kernels import minhash
from impdist.kernels.minhash import Shingle

# Above this many rows `semantic_duplicates(index="auto")` leaves the exact flat index (cost
# n^2 d) for IVF (about n^1.5 d). Measured with `bench/bench_filter.py --crossover` (2 shared
# CPU cores, 384-d MiniLM-like rows), seconds flat / IVF / HNSW: 2k 0.06 / 0.13 / 0.39,
# 5k 0.37 / 0.26 / 1.13, 10k 1.33 / 0.90 / 2.66, 50k 34.6 / 6.0 / 20.1. They cross between 2k
# and 5k; up to 5k exact still takes under half a second and loses no recall, so it stays.
# HNSW (build-bound on few cores) loses to IVF at every size, so "auto" picks IVF.
FLAT_MAX_ROWS = 5_000
IVF_LISTS_PER_SQRT_N, IVF_NPROBE, IVF_TRAIN_PER_LIST = 2, 8, 64
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 16, 40, 32
_FIRST_K = 16  # neighbours asked per row first; rows whose k-th is still a match ask for 4x more
_ROUNDS = 32  # vectorised rounds of the greedy walk before finishing it one node at a time


def text_ids(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Interns texts: the distinct ones in first-seen order, and each input's index among them."""
    distinct = list(dict.fromkeys(texts))
    index = dict(zip(distinct, range(len(distinct))))
    return distinct, np.fromiter(map(index.__getitem__, texts), np.int64, len(texts))


def _first_wins(n: int, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """Greedy first-wins dedup over match edges earlier[e] < later[e]: True = dropped.

    This is the lexicographically first maximal independent set. Each vectorised round keeps
    every undecided node whose earlier matches are all dropped and drops every node matching a
    kept one, so at least the first undecided node is settled per round; long chains of
    matches (a~b, b~c, ...) finish in a plain loop after _ROUNDS rounds.
    """
    undecided, kept, dropped = 0, 1, 2
    state = np.full(n, kept, dtype=np.int8)
    state[later] = undecided  # a node with no earlier match is kept outright
    for _ in range(_ROUNDS):
        open_ = state[later] == undecided
        if not open_.any():
            return state == dropped
        state[later[open_ & (state[earlier] == kept)]] = dropped
        blocked = np.zeros(n, dtype=bool)
        blocked[later[(state[later] == undecided) & (state[earlier] != dropped)]] = True
        state[(state == undecided) & ~blocked] = kept
    order = np.argsort(later, kind="stable")
    later, earlier = later[order], earlier[order]
    bounds = np.searchsorted(later, np.arange(n + 1))
    for node in np.flatnonzero(state == undecided):  # ascending, so earlier nodes are settled
        hit = (state[earlier[bounds[node] : bounds[node + 1]]] == kept).any()
        state[node] = dropped if hit else kept
    return state == dropped


def _check_lengths(**arrays: Sequence) -> int:
    """The common length of the named inputs, or ValueError listing them."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs differ in length: {lengths}")
    return next(iter(lengths.values()))


# --- Exact ---------------------------------------------------------------------------------------

def normalise(text: str) -> str:
    """Casefolded, whitespace runs collapsed to one space, no leading or trailing whitespace."""
    # Fast path: every whitespace character but " " is non-printable, so a printable text
    # without double, leading or trailing spaces only needs casefolding.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text.casefold()
    return " ".join(text.casefold().split())


def exact_duplicates(srcs: Sequence[str], tgts: Sequence[str], *, symmetric: bool) -> np.ndarray:
    """True for pairs equal to an earlier pair after casefolding and collapsing whitespace;
    with `symmetric`, (a, b) also equals (b, a)."""
    n = _check_lengths(srcs=srcs, tgts=tgts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    raw, raw_ids = text_ids([*srcs, *tgts])
    norm, norm_ids = text_ids([normalise(t) for t in raw])
    ids = norm_ids[raw_ids]
    a, b = ids[:n], ids[n:]
    if symmetric:
        a, b = np.minimum(a, b), np.maximum(a, b)
    _, first = np.unique(a * len(norm) + b, return_index=True)
    drop = np.ones(n, dtype=bool)
    drop[first] = False
    return drop


# --- MinHash LSH ---------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) that datasketch's MinHashLSH picks for (threshold, num_perm), equal weights."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


Item = Union[str, Sequence[str]]


def item_signatures(
    items: Sequence[Item], num_perm: int = 128, seed: int = 1, shingle: Shingle = "word", threads: int | None = None
) -> np.ndarray:
    """impdist.kernels.minhash rows of texts, or of text tuples whose shingle set is the union of
    their parts' (the elementwise min of the parts' rows): a pair (src, tgt) has the word
    shingles of "src tgt". Each distinct text is hashed once, however many items share it."""
    parts = [(t,) if isinstance(t, str) else tuple(t) or ("",) for t in items]
    distinct, ids = text_ids([t for p in parts for t in p])
    rows = minhash(distinct, num_perm=num_perm, seed=seed, shingle=shingle, threads=threads)
    sizes = np.fromiter(map(len, parts), np.int64, len(parts))
    if len(parts) and (sizes == sizes[0]).all():  # the usual case: all texts, or all pairs
        k = int(sizes[0])
        sig = rows[ids[::k]]
        for j in range(1, k):
            np.minimum(sig, rows[ids[j::k]], out=sig)
        return sig
    starts = np.cumsum(sizes) - sizes
    sig = rows[ids[starts]]
    for j in range(1, int(sizes.max(initial=1))):  # items have few parts: one pass per part
        more = np.flatnonzero(sizes > j)
        sig[more] = np.minimum(sig[more], rows[ids[starts[more] + j]])
    return sig


def near_duplicates(
    texts: Sequence[Item],
    *,
    threshold: float = 0.8,
    num_perm: int = 128,
    seed: int = 1,
    shingle: Shingle = "word",
    backend: str = "auto",
    threads: int | None = None,
) -> np.ndarray:
    """True for texts that are MinHash near-duplicates of an earlier kept text. An item may be a
    tuple of texts (a pair), deduplicated on the union of its parts' shingles (item_signatures).

    A match is datasketch's MinHashLSH candidate (some band of `lsh_params` rows equal, on our
    datasketch-identical signatures) that is then verified, as datasketch's `query` docs advise,
    by the estimated Jaccard ``MinHash.jaccard >= threshold``. Texts without shingles (empty)
    share one signature, so they are duplicates of each other, as in datasketch.
    backend: "core" (impdist.kernels.near_duplicates: banding and verification on all cores),
    "datasketch" (its MinHashLSH, the reference), "auto" = core.
    threads: for the MinHash and LSH kernels (None = all cores).
    """
    if backend not in ("auto", "core", "datasketch"):
        raise ValueError(f"backend must be 'auto', 'core' or 'datasketch', got {backend!r}")
    bands, rows = lsh_params(float(threshold), num_perm)
    sig = item_signatures(texts, num_perm, seed, shingle, threads)
    if len(sig) == 0:
        return np.zeros(0, dtype=bool)
    if backend == "datasketch":
        return _near_datasketch(sig, threshold, seed, bands, rows)
    return kernels.near_duplicates(sig, threshold, bands, rows, threads=threads)


def _near_datasketch(sig: np.ndarray, threshold: float, seed: int, bands: int, rows: int) -> np.ndarray:
    """The reference backend: datasketch's MinHashLSH over LeanMinHash views of our rows."""
    from datasketch import LeanMinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=sig.shape[1], params=(bands, rows))
    sketches = [LeanMinHash(seed=seed, hashvalues=row, scheme="affine32") for row in sig]
    drop = np.zeros(len(sig), dtype=bool)
    for i, m in enumerate(sketches):
        if any(m.jaccard(sketches[j]) >= threshold for j in lsh.query(m)):
            drop[i] = True
        else:
            lsh.insert(i, m, check_duplication=False)
    return drop


# --- FAISS semantic ------------------------------------------------------------------------------

def _check_embeddings(emb: np.ndarray) -> np.ndarray:
    """(n, d) C-contiguous float32 with unit rows, as faiss's wrapper would pass it on."""
    x = np.asarray(emb)
    if x.ndim != 2:
        raise ValueError(f"emb must be 2-D (n, d), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"emb must hold floats (float32), got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) and x.shape[1] == 0:
        raise ValueError("emb has 0 columns")
    norms = np.einsum("ij,ij->i", x, x, dtype=np.float64)
    bad = np.flatnonzero(~(np.abs(norms - 1.0) <= 1e-3))
    if len(bad):
        raise ValueError(f"emb row {bad[0]} has squared norm {norms[bad[0]]:.4g}, not 1: "
                         "L2-normalise the embeddings first (faiss.normalize_L2)")
    return x


def _gpu_resources():
    """faiss GPU resources, or DeviceUnavailableError saying what to install."""
    import faiss

    if not hasattr(faiss, "StandardGpuResources"):
        raise DeviceUnavailableError("device='cuda' needs faiss with GPU support: pip install faiss-gpu-cu12 "
                                     "(in place of faiss-cpu), or use device='cpu'")
    if faiss.get_num_gpus() < 1:
        raise DeviceUnavailableError("device='cuda' but faiss sees no GPU; use device='cpu'")
    return faiss.StandardGpuResources()


def _build_index(x: np.ndarray, kind: str, device: str):
    """A faiss inner-product index of kind "flat", "ivf" or "hnsw" holding x."""
    import faiss

    n, d = x.shape
    if kind not in ("flat", "ivf", "hnsw"):
        raise ValueError(f"index must be 'auto', 'flat', 'ivf' or 'hnsw', got {kind!r}")
    if kind != "flat" and device == "cuda":
        raise ValueError(f"index={kind!r} runs on the CPU; use index='flat' with device='cuda'")
    if kind == "flat" and device == "cuda":
        resources = _gpu_resources()  # first: it says why when this faiss has no GPU classes
        index = faiss.GpuIndexFlatIP(resources, d)
    elif kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "ivf":
        # ~2 sqrt(n) lists, but at least 39 rows each to train on (faiss warns below that)
        nlist = max(1, min(int(IVF_LISTS_PER_SQRT_N * np.sqrt(n)), n // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        train = np.random.default_rng(0).permutation(n)[: IVF_TRAIN_PER_LIST * nlist]
        index.train(x[np.sort(train)])
        index.nprobe = IVF_NPROBE
    else:
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(x)
    return index


def _matches(index, x: np.ndarray, threshold: float, max_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges (earlier, later) between rows whose inner product is >= threshold in either
    direction's search; k grows for rows whose k-th neighbour still matches."""
    n = len(x)
    rows, found_q, found_p = np.arange(n), [], []
    k = min(n, _FIRST_K)
    while len(rows):
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = max(HNSW_EF_SEARCH, k)
        dist, ids = index.search(x[rows], k)
        hit = (dist >= threshold) & (ids >= 0)
        q, col = np.nonzero(hit)
        found_q.append(rows[q])
        found_p.append(ids[q, col])
        full = hit[:, -1] & (k < n)  # all k matched: there may be more
        if k >= max_k and full.any():
            raise RuntimeError(f"{int(full.sum())} rows match more than {max_k} others; the GPU "
                               "index cannot return more, use device='cpu'")
        rows, k = rows[full], min(n, k * 4, max_k)
    q, p = np.concatenate(found_q), np.concatenate(found_p)
    a, b = np.minimum(q, p), np.maximum(q, p)
    key = np.unique((a * n + b)[a != b])
    return key // n, key % n


def semantic_duplicates(
    emb: np.ndarray, *, threshold: float = 0.95, index: str = "auto", device: str = "cpu"
) -> np.ndarray:
    """True for rows whose inner product with an earlier kept row is >= threshold.

    emb: (n, d) L2-normalised float32 (others are converted, like faiss does). index: "flat"
    (exact), "ivf" or "hnsw" (approximate, CPU), "auto" = flat up to FLAT_MAX_ROWS rows, else
    IVF (flat on the GPU). device="cuda" needs faiss-gpu.
    """
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    x = _check_embeddings(emb)
    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    kind = index
    if index == "auto":
        kind = "flat" if len(x) <= FLAT_MAX_ROWS or device == "cuda" else "ivf"
    built = _build_index(x, kind, device)
    earlier, later = _matches(built, x, float(threshold), 2048 if device == "cuda" else len(x))
    return _first_wins(len(x), earlier, later)


# --- Entailment graph ----------------------------------------------------------------------------

def component_representatives(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """True (= KEEP) for the one lowest-cost edge of each connected component of the graph whose
    edges are the pairs (a[i], b[i]) of integer node ids; ties go to the first edge.

    The paper's entailment-graph grouping: pairs sharing sentences form a component, and only
    the least-overlapping pair (cost = e.g. ROUGE-L) of each survives.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    a, b, cost = np.asarray(a), np.asarray(b), np.asarray(cost, dtype=np.float64)
    n = _check_lengths(a=a, b=b, cost=cost)
    if a.ndim != 1 or b.ndim != 1 or cost.ndim != 1:
        raise ValueError("a, b and cost must be 1-D")
    if n == 0:
        return np.zeros(0, dtype=bool)
    if not (np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer)):
        raise ValueError(f"node ids must be integers, got {a.dtype} and {b.dtype}")
    if np.isnan(cost).any():
        raise ValueError(f"cost is NaN at edge {int(np.flatnonzero(np.isnan(cost))[0])}")
    nodes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    graph = coo_matrix((np.ones(n, dtype=np.int8), (inverse[:n], inverse[n:])), shape=(len(nodes),) * 2)
    _, label = connected_components(graph, directed=False)
    comp = label[inverse[:n]]
    order = np.lexsort((np.arange(n), cost, comp))
    keep = np.zeros(n, dtype=bool)
    keep[order[np.r_[True, comp[order][1:] != comp[order][:-1]]]] = True
    return keep
