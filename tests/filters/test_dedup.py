"""Dedup against independent references: Python loops, datasketch end to end, brute-force numpy."""
from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from impdist import ImpdistError, kernels
from impdist.filters import dedup
from impdist.filters.dedup import (
    component_representatives,
    exact_duplicates,
    item_signatures,
    near_duplicates,
    normalise,
    semantic_duplicates,
    text_ids,
)
from tests.conftest import EXAMPLES, record
from tests.kernels.strategies import VOCAB, any_text, sentence


def greedy(n, matches):
    """First wins, one item at a time: drop i iff it matches an earlier kept item."""
    kept, drop = [], np.zeros(n, dtype=bool)
    for i in range(n):
        if any(matches(j, i) for j in kept):
            drop[i] = True
        else:
            kept.append(i)
    return drop


# --- The greedy walk -----------------------------------------------------------------------------

@given(st.integers(0, 40).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, max(n - 1, 0))), max_size=120))),
    st.sampled_from([0, 1, 2, 32]))
def test_first_wins_matches_sequential_walk(graph, rounds):
    n, edges = graph
    edges = {(min(a, b), max(a, b)) for a, b in edges if a != b}
    earlier = np.array([a for a, _ in sorted(edges)], dtype=np.int64)
    later = np.array([b for _, b in sorted(edges)], dtype=np.int64)
    saved, dedup._ROUNDS = dedup._ROUNDS, rounds  # 0 rounds: the plain loop alone
    try:
        ours = dedup._first_wins(n, earlier, later)
    finally:
        dedup._ROUNDS = saved
    assert np.array_equal(ours, greedy(n, lambda j, i: (j, i) in edges))


# --- Exact ---------------------------------------------------------------------------------------

def test_text_ids():
    distinct, ids = text_ids(["b", "a", "b", "c", "a"])
    assert distinct == ["b", "a", "c"] and ids.tolist() == [0, 1, 0, 2, 1]
    assert text_ids([])[1].shape == (0,)


@given(any_text)
def test_normalise_is_casefold_and_collapsed_whitespace(text):
    assert normalise(text) == " ".join(text.casefold().split())


variant = st.sampled_from([str, str.upper, str.title, lambda s: f"  {s}\t", lambda s: s.replace(" ", "  ")])


@st.composite
def pair_batches(draw):
    pool = draw(st.lists(st.one_of(sentence, any_text), min_size=1, max_size=6))
    out = []
    for _ in range(draw(st.integers(0, 30))):
        a, b = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        out.append((draw(variant)(a), draw(variant)(b)))
    return out


@given(pair_batches(), st.booleans())
def test_exact_matches_python_set(batch, symmetric):
    seen, expected = set(), []
    for s, t in batch:
        a, b = " ".join(s.casefold().split()), " ".join(t.casefold().split())
        key = (min(a, b), max(a, b)) if symmetric else (a, b)
        expected.append(key in seen)
        seen.add(key)
    srcs, tgts = [s for s, _ in batch], [t for _, t in batch]
    assert exact_duplicates(srcs, tgts, symmetric=symmetric).tolist() == expected
    record("exact_duplicates", len(batch))


def test_exact_edges():
    srcs, tgts = ["A b", "b a", "a  B"], ["b a", "A B", "b A"]
    assert exact_duplicates(srcs, tgts, symmetric=True).tolist() == [False, True, True]
    assert exact_duplicates(srcs, tgts, symmetric=False).tolist() == [False, False, True]
    assert exact_duplicates([], [], symmetric=True).shape == (0,)
    with pytest.raises(ValueError, match="differ in length"):
        exact_duplicates(["a"], [], symmetric=True)


# --- MinHash LSH ---------------------------------------------------------------------------------

def reference_near(items, threshold, num_perm, seed, shingle):
    """datasketch end to end: its own MinHash of each item's shingles, its MinHashLSH (own
    (b, r) choice), candidates verified by MinHash.jaccard, greedy first wins."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    sketches, drop = [], np.zeros(len(items), dtype=bool)
    for i, item in enumerate(items):
        m = MinHash(num_perm=num_perm, seed=seed)
        for text in [item] if isinstance(item, str) else item:
            m.update_batch([s.encode("utf-8") for s in kernels.shingles(text, shingle)])
        sketches.append(m)
        if any(m.jaccard(sketches[j]) >= threshold for j in lsh.query(m)):
            drop[i] = True
        else:
            lsh.insert(i, m)
    return drop


def mutate(draw, text):
    words = text.split()
    op = draw(st.sampled_from(["same", "same", "drop", "add", "swap", "upper", "empty", "spaces"]))
    if op == "drop" and words:
        del words[draw(st.integers(0, len(words) - 1))]
    elif op == "add":
        words.insert(draw(st.integers(0, len(words))), draw(st.sampled_from(VOCAB)))
    elif op == "swap" and len(words) > 1:
        i = draw(st.integers(0, len(words) - 2))
        words[i], words[i + 1] = words[i + 1], words[i]
    elif op == "upper":
        return text.upper()
    elif op == "empty":
        return draw(st.sampled_from(["", " ", "\t\n"]))
    elif op == "spaces":
        return "  ".join(words)
    else:
        return text
    return " ".join(words)


long_sentence = st.lists(st.sampled_from(VOCAB), min_size=5, max_size=40).map(" ".join)


@st.composite
def near_batches(draw):
    """Texts drawn from a small pool, mutated slightly: real duplicates and near-duplicates."""
    pool = draw(st.lists(st.one_of(long_sentence, sentence, any_text), min_size=1, max_size=8))
    return [mutate(draw, draw(st.sampled_from(pool))) for _ in range(draw(st.integers(0, 40)))]


PARAMS = st.tuples(st.sampled_from([0.5, 0.7, 0.8, 0.9]), st.sampled_from([16, 64, 128]),
                   st.integers(0, 2**32 - 1), st.sampled_from(["word", 3]))


@given(near_batches(), PARAMS)
def test_near_backends_agree_with_datasketch(texts, params):
    threshold, num_perm, seed, shingle = params
    try:
        expected = reference_near(texts, threshold, num_perm, seed, shingle)
    except ValueError as exc:  # datasketch refuses some (threshold, num_perm): so must we, alike
        expected = exc
    for backend in ("core", "datasketch", "auto"):
        kwargs = dict(threshold=threshold, num_perm=num_perm, seed=seed, shingle=shingle, backend=backend)
        if isinstance(expected, ValueError):
            with pytest.raises(ValueError, match=str(expected).replace("(", r"\(").replace(")", r"\)")):
                near_duplicates(texts, **kwargs)
        else:
            assert np.array_equal(near_duplicates(texts, **kwargs), expected), backend
    record("near_duplicates", len(texts))


@st.composite
def pair_items(draw):
    """Tuples of 0-3 texts (pairs, mostly) over a small pool, so their unions overlap."""
    pool = draw(st.lists(st.one_of(long_sentence, sentence), min_size=1, max_size=6))
    part = st.sampled_from(pool).map(lambda t: mutate(draw, t))
    return draw(st.lists(st.lists(part, max_size=3).map(tuple), max_size=30))


@given(pair_items())
def test_near_on_tuples_is_the_union_of_parts(items):
    expected = reference_near(items, 0.7, 64, 1, "word")
    assert np.array_equal(near_duplicates(items, threshold=0.7, num_perm=64), expected)
    assert np.array_equal(near_duplicates(items, threshold=0.7, num_perm=64, backend="datasketch"), expected)


def test_item_signatures_match_datasketch():
    items = [("a b", "b c"), "x y", (), ("",), ("q", "r s", "t"), ["a b", "b c"]]
    sig = item_signatures(items)
    for item, row in zip(items, sig):
        m = MinHash(num_perm=128, seed=1)
        for text in [item] if isinstance(item, str) else item:
            m.update_batch([w.encode() for w in text.split()])
        assert np.array_equal(m.hashvalues, row)


def test_near_on_mrpc(mrpc):
    texts = [r["src"] for r in mrpc] + [r["refs"][0] for r in mrpc]
    texts += [t.upper() for t in texts[:300]] + [" ".join(t.split()[1:]) for t in texts[:300]]
    expected = reference_near(texts, 0.8, 128, 1, "word")
    assert expected.sum() >= 300
    assert np.array_equal(near_duplicates(texts), expected)
    record("near_duplicates:mrpc", len(texts))


def test_near_long_chains_keep_first_wins():
    # Sliding windows: each text a near-duplicate of the next, a chain through the whole input.
    words = [f"w{i}" for i in range(400)]
    texts = [" ".join(words[i : i + 60]) for i in range(300)]
    expected = reference_near(texts, 0.9, 128, 1, "word")
    assert np.array_equal(near_duplicates(texts, threshold=0.9), expected)
    assert 0 < expected.sum() < len(texts)


def test_near_edges():
    assert near_duplicates([]).shape == (0,)
    assert near_duplicates(["", "", " "]).tolist() == [False, True, True]  # no shingles: one signature
    with pytest.raises(ValueError, match="backend"):
        near_duplicates(["a"], backend="faiss")
    for backend in ("core", "datasketch"):  # datasketch's own limits hold for both backends
        with pytest.raises(ValueError):
            near_duplicates(["a"], threshold=1.5, backend=backend)
        with pytest.raises(ValueError):
            near_duplicates(["a"], num_perm=1, backend=backend)


# --- FAISS semantic ------------------------------------------------------------------------------

def planted(n, d=32, dup_frac=0.3, seed=0):
    """Random unit rows, a share of them near-copies of an earlier row; no inner product within
    1e-3 of 0.95, so float rounding cannot flip a comparison."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    dup = np.flatnonzero(rng.random(n) < dup_frac)
    dup = dup[dup > 0]
    x[dup] = x[rng.integers(0, dup)] + rng.standard_normal((len(dup), d)).astype(np.float32) * 0.05
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    gram = x @ x.T
    near = np.abs(gram - 0.95) < 1e-3
    np.fill_diagonal(near, False)
    keep = ~near.any(axis=1)
    return np.ascontiguousarray(x[keep])


def brute_force(x, threshold):
    """The greedy walk over the full Gram matrix, one row at a time."""
    gram = x.astype(np.float64) @ x.astype(np.float64).T
    kept = np.zeros(len(x), dtype=bool)
    for i in range(len(x)):
        kept[i] = not (gram[i, :i][kept[:i]] >= threshold).any()
    return ~kept


@settings(max_examples=min(EXAMPLES, 300))  # faiss calls cost ms each; `make parity` need not wait
@given(st.integers(0, 300), st.integers(0, 1000), st.sampled_from([0.5, 0.95]))
def test_flat_index_is_exact(n, seed, threshold):
    x = planted(n, seed=seed)
    assert np.array_equal(semantic_duplicates(x, threshold=threshold, index="flat"), brute_force(x, threshold))
    record("semantic:flat", len(x))


def test_more_matches_than_first_k():
    # 50 copies of one row: more than _FIRST_K matches, so the search must widen k.
    x = planted(200, seed=3)
    x = np.vstack([x, np.repeat(x[:1], 50, axis=0)])
    assert np.array_equal(semantic_duplicates(x, index="flat"), brute_force(x, 0.95))


def test_greedy_chain():
    a = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    b = np.array([0.97, 0.2431, 0.0], dtype=np.float32)
    c = np.array([0.8820, 0.4712, 0.0], dtype=np.float32)
    x = np.stack([a, b / np.linalg.norm(b), c / np.linalg.norm(c)])
    assert x[0] @ x[1] >= 0.95 and x[1] @ x[2] >= 0.95 and x[0] @ x[2] < 0.95
    assert semantic_duplicates(x).tolist() == [False, True, False]  # c's match b was dropped


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_approximate_index_recall(index):
    x = planted(4000, d=64, seed=7)
    exact = brute_force(x, 0.95)
    approx = semantic_duplicates(x, index=index)
    recall = (exact & approx).sum() / exact.sum()
    assert exact.sum() > 500 and recall >= 0.99, recall
    assert (approx & ~exact).sum() <= 0.01 * exact.sum()  # misses may let a later row stay


def test_auto_index_switches_above_flat_max_rows(monkeypatch):
    x = planted(600, seed=5)
    build, built = dedup._build_index, []
    monkeypatch.setattr(dedup, "_build_index", lambda x, kind, device: built.append(kind) or build(x, kind, device))
    monkeypatch.setattr(dedup, "FLAT_MAX_ROWS", 100)
    assert np.array_equal(semantic_duplicates(x), brute_force(x, 0.95))
    monkeypatch.setattr(dedup, "FLAT_MAX_ROWS", 600)
    semantic_duplicates(x)
    assert built == ["ivf", "flat"]


def test_embedding_checks():
    x = planted(10)
    assert semantic_duplicates(x[:0]).shape == (0,)
    assert np.array_equal(semantic_duplicates(np.asfortranarray(x.astype(np.float64))), semantic_duplicates(x))
    with pytest.raises(ValueError, match="2-D"):
        semantic_duplicates(x[0])
    with pytest.raises(ValueError, match="floats"):
        semantic_duplicates(np.ones((3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="normalise"):
        semantic_duplicates(x * 2)
    with pytest.raises(ValueError, match="normalise"):
        semantic_duplicates(np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="index"):
        semantic_duplicates(x, index="lsh")
    with pytest.raises(ValueError, match="device"):
        semantic_duplicates(x, device="tpu")


def test_cuda_without_faiss_gpu_says_so():
    import faiss

    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        pytest.skip("faiss sees a GPU here")
    with pytest.raises(ImpdistError, match="faiss"):
        semantic_duplicates(planted(10), device="cuda")


# --- Entailment graph ----------------------------------------------------------------------------

def reference_representatives(a, b, cost):
    parent: dict[int, int] = {}

    def find(u):
        while parent.setdefault(u, u) != u:
            u = parent[u]
        return u

    for u, v in zip(a, b):
        parent[find(u)] = find(v)
    best: dict[int, int] = {}
    for i, u in enumerate(a):
        root = find(u)
        if root not in best or cost[i] < cost[best[root]]:
            best[root] = i
    keep = np.zeros(len(a), dtype=bool)
    keep[list(best.values())] = True
    return keep


@given(st.lists(st.tuples(st.integers(-5, 12), st.integers(-5, 12), st.sampled_from([0.0, 0.1, 0.5, 1.0, np.inf])),
                max_size=40))
def test_representatives_match_union_find(edges):
    a = np.array([e[0] for e in edges], dtype=np.int64) * 1_000_003  # sparse, negative ids
    b = np.array([e[1] for e in edges], dtype=np.int64) * 1_000_003
    cost = np.array([e[2] for e in edges], dtype=np.float64)
    assert np.array_equal(component_representatives(a, b, cost), reference_representatives(a, b, cost))


def test_representatives_edges():
    keep = component_representatives(np.array([1, 2, 5, 7, 3]), np.array([2, 3, 6, 5, 9]),
                                     np.array([0.5, 0.2, 0.3, 0.3, 0.2]))
    assert keep.tolist() == [False, True, True, False, False]  # ties: the first edge
    assert component_representatives(np.array([], dtype=int), np.array([], dtype=int), np.array([])).shape == (0,)
    with pytest.raises(ValueError, match="differ in length"):
        component_representatives(np.array([1]), np.array([1, 2]), np.array([0.0]))
    with pytest.raises(ValueError, match="NaN"):
        component_representatives(np.array([1]), np.array([2]), np.array([np.nan]))
    with pytest.raises(ValueError, match="integers"):
        component_representatives(np.array([1.5]), np.array([2.0]), np.array([0.0]))
