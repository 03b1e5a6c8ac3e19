"""The decode loop and sampling, on a fake backend whose outputs can be recomputed exactly."""
from __future__ import annotations

import numpy as np
import pytest

from impdist.decoding.decode import DecodeJob, decode_batches, left_pad
from impdist.decoding.sampling import SamplingConfig
from tests.decoding.fake import FakeBackend

EOS = 7


def run(backend, jobs, cfg, batch_size, stop=None, max_new=12, seed=0):
    out = dict(decode_batches(backend, jobs, cfg, seed=seed, max_new_tokens=max_new, eos_ids=frozenset({EOS}),
                              pad_id=0, batch_size=batch_size, stop=stop))
    return [out[i] for i in range(len(jobs))]


def jobs_of(prompts):
    return [DecodeJob(tuple(p), key=i) for i, p in enumerate(prompts)]


PROMPTS = [[3, 4, 5], [9], [5, 6, 8, 9, 4], [2, 2], [8, 3, 6]]  # all below every fake vocab size


def test_left_pad():
    ids, mask = left_pad([[1, 2, 3], [4]], pad_id=0)
    assert ids.tolist() == [[1, 2, 3], [0, 0, 4]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_greedy_matches_recomputation_without_cache():
    be = FakeBackend()
    got = run(be, jobs_of(PROMPTS), SamplingConfig(greedy=True), batch_size=3)
    for prompt, gen in zip(PROMPTS, got):
        seq = [0, 0] + prompt
        expected = []
        for _ in range(12):
            tok = int(np.argmax(be.logits_for(seq[-2], seq[-1])))
            if tok == EOS:
                break
            expected.append(tok)
            seq.append(tok)
        assert gen == expected


def test_sampling_does_not_depend_on_batching():
    cfg = SamplingConfig(temperature=1.0, top_p=0.9)
    one = run(FakeBackend(), jobs_of(PROMPTS), cfg, batch_size=1)
    many = run(FakeBackend(), jobs_of(PROMPTS), cfg, batch_size=4)
    assert one == many
    assert run(FakeBackend(), jobs_of(PROMPTS), cfg, batch_size=2, seed=1) != one


def test_banned_tokens_and_no_repeat_ngrams():
    cfg = SamplingConfig(temperature=2.0, top_p=1.0, no_repeat_ngram_size=3, banned_ids=(1, 2, 3))
    for prompt, gen in zip(PROMPTS, run(FakeBackend(vocab=20), jobs_of(PROMPTS), cfg, batch_size=5, max_new=30)):
        assert not set(gen) & {1, 2, 3}
        seq = prompt + gen
        grams = [tuple(seq[i : i + 3]) for i in range(len(seq) - 2)]
        assert len(grams) == len(set(grams)), "a 3-gram repeated"


def test_top_p_keeps_only_the_nucleus():
    be = FakeBackend(vocab=10)
    be.table[:] = -10.0
    be.table[:, :, 4] = 10.0  # token 4 holds almost all the mass
    got = run(be, jobs_of(PROMPTS), SamplingConfig(temperature=1.0, top_p=0.5), batch_size=5, max_new=5)
    assert all(g == [4] * 5 for g in got)


def test_stop_and_eos_end_rows_and_shrink_the_batch():
    be = FakeBackend()
    stop = lambda st: len(st.generated) >= 1 + st.prompt[0] % 4  # noqa: E731 - rows end at different steps
    got = run(be, jobs_of(PROMPTS), SamplingConfig(greedy=True), batch_size=5, stop=stop, max_new=20)
    for prompt, gen in zip(PROMPTS, got):
        assert len(gen) <= 1 + prompt[0] % 4
        assert EOS not in gen
    assert be.steps < 5  # finished rows were dropped, the batch did not run to max_new


def test_bad_sampling_settings():
    with pytest.raises(ValueError, match="top_p"):
        SamplingConfig(top_p=0)
    with pytest.raises(ValueError, match="temperature"):
        SamplingConfig(temperature=0)


def test_shared_prompts_are_prefilled_once_and_decode_as_if_alone():
    prompts = [[3, 4, 5]] * 4 + [[9]] * 3  # samples of two contexts
    jobs = [DecodeJob(tuple(p), key=i) for i, p in enumerate(prompts)]
    cfg = SamplingConfig(temperature=1.0, top_p=0.95)
    be = FakeBackend()
    prefilled = []
    original = be.prefill
    be.prefill = lambda ids, mask: prefilled.append(len(ids)) or original(ids, mask)
    together = run(be, jobs, cfg, batch_size=7)
    assert prefilled == [2]
    assert together == run(FakeBackend(), jobs, cfg, batch_size=1)


def test_a_prefix_every_prompt_shares_is_prefilled_once():
    prompts = [[3, 4, 5, 6, 8, 1], [3, 4, 5, 6, 8, 2, 9], [3, 4, 5, 6, 8]]
    jobs = jobs_of(prompts)
    cfg = SamplingConfig(temperature=1.0, top_p=0.95)
    be = FakeBackend()
    prefilled = []
    original = be.prefill
    be.prefill = lambda ids, mask: prefilled.append(ids.tolist()) or original(ids, mask)
    assert run(be, jobs, cfg, batch_size=3) == run(FakeBackend(), jobs, cfg, batch_size=1)
    assert prefilled == [[[3, 4, 5, 6]]] and be.extends == 1  # each prompt keeps a token of its own


@pytest.mark.parametrize("prompts, prefix", [
    ([[3, 4, 5, 6, 8, 1], [3, 4, 5, 6, 8, 2, 9], [3, 4, 5, 6, 8]], [3, 4, 5, 6]),  # most of each prompt
    ([[3, 4, 5, 6, 8, 1, 7, 7, 7], [3, 4, 5, 6, 8, 2, 9], [3, 4, 5, 6, 8]], None),  # under half the longest
])
def test_a_backend_that_extends_row_by_row_gets_a_prefix_only_where_it_is_most_of_the_prompts(prompts, prefix):
    """The fused Llama graph appends a block row by row, at about half the batched speed: the loop
    prefills the shared prefix once only where it is at least half of the longest prompt."""
    jobs = jobs_of(prompts)
    cfg = SamplingConfig(temperature=1.0, top_p=0.95)
    be = FakeBackend()
    be.extends_blocks = False
    prefilled = []
    original = be.prefill
    be.prefill = lambda ids, mask: prefilled.append(ids.tolist()) or original(ids, mask)
    assert run(be, jobs, cfg, batch_size=3) == run(FakeBackend(), jobs, cfg, batch_size=1)
    if prefix is None:
        assert len(prefilled) == 1 and len(prefilled[0]) == 3 and getattr(be, "extends", 0) == 0
    else:
        assert prefilled == [[prefix]] and be.extends == 1


def test_fake_backend_log_likelihoods_are_log_probabilities():
    be = FakeBackend(vocab=12)
    ids = np.array([[3, 4, 5, 6]], dtype=np.int64)
    ll = be.log_likelihoods(ids, np.ones_like(ids))
    assert ll.shape == (1, 3) and (ll < 0).all()
    logits = be.logits_for(3, 4).astype(np.float64)
    assert ll[0, 1] == pytest.approx(logits[5] - np.log(np.exp(logits).sum()), rel=1e-5)


def _reference_pick(logits_row: np.ndarray, top_p: float, temperature: float, rng: np.random.Generator) -> int:
    """Top-p sampling written out plainly: softmax, a full stable sort, the shortest head with
    mass >= top_p, then the inverse-CDF draw the sampler makes."""
    x = logits_row.astype(np.float32) / np.float32(temperature)
    p = np.exp(x - x.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    cum = np.cumsum(p[order])
    keep = min(int(np.searchsorted(cum, np.float32(top_p))) + 1, len(order))
    head = np.cumsum(p[order[:keep]])
    u = rng.random() * float(head[-1])
    return int(order[min(int(np.searchsorted(head, u, side="right")), keep - 1)])


def _nucleus_logits(rows: int, vocab: int) -> np.ndarray:
    """Peaked, flat, masked and tied rows."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(rows, vocab)).astype(np.float32)
    logits[::3] *= 8.0   # peaked rows: the nucleus lies in the top 64
    logits[1::3] *= 0.1  # flat rows: it does not (the top 1024, or the full sort, is needed)
    logits[2, : vocab // 2] = -np.inf  # a masked row
    logits[5, vocab // 4 :] = 4.0  # ties: lower ids first
    return logits


@pytest.mark.parametrize("vocab", [50, 3000])
def test_the_batched_nucleus_picks_what_a_plain_full_sort_picks(vocab):
    from impdist.decoding.sampling import new_state, select_next

    rows, top_p, temperature = 24, 0.9, 0.7
    logits = _nucleus_logits(rows, vocab)
    states = [new_state([1], seed=5, key=k, ngram=0) for k in range(rows)]
    got = select_next(logits.copy(), states, SamplingConfig(temperature=temperature, top_p=top_p))
    want = [_reference_pick(logits[r], top_p, temperature, new_state([1], seed=5, key=r, ngram=0).rng)
            for r in range(rows)]
    assert got.tolist() == want


def test_the_numpy_sampler_picks_what_torchs_softmax_and_sort_pick():
    """The sampler was torch before it was numpy: the same logits, seeds and settings pick the
    same tokens, so runs made with the torch sampler are reproduced."""
    torch = pytest.importorskip("torch")
    from impdist.decoding.sampling import new_state, select_next

    rows, top_p = 24, 0.9
    logits = _nucleus_logits(rows, 3000)
    got = select_next(logits.copy(), [new_state([1], seed=5, key=k, ngram=0) for k in range(rows)],
                      SamplingConfig(temperature=1.0, top_p=top_p))
    probs = torch.softmax(torch.from_numpy(logits), dim=1)
    for row in range(rows):
        top, ids = torch.sort(probs[row], descending=True, stable=True)
        cum = torch.cumsum(top, 0)
        keep = min(int(torch.searchsorted(cum, torch.tensor(top_p)).item()) + 1, len(ids))
        head = torch.cumsum(top[:keep], 0).numpy()
        u = new_state([1], seed=5, key=row, ngram=0).rng.random() * float(head[-1])
        assert got[row] == int(ids[min(int(np.searchsorted(head, u, side="right")), keep - 1)])


class _AllowSet:
    """A constraint allowing a fixed, sorted set of ids whatever the state (Extractive's interface)."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.unique(ids)

    def initial(self):
        return frozenset()

    def allowed(self, state, generated: int) -> np.ndarray:
        return self.ids

    def advance(self, state, token: int):
        return state


@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize("greedy", [False, True])
@pytest.mark.parametrize("vocab", [50, 3000])
def test_constrained_rows_pick_what_masking_the_whole_vocabulary_picks(vocab, greedy, mixed):
    """Constrained rows (every row, or every row but each fifth, which is free): softmax and
    nucleus over the allowed ids alone pick the token that masking everything else and sampling
    the whole vocabulary picks (banned ids and no-repeat n-grams included)."""
    from impdist.decoding.sampling import new_state, select_next

    rows, top_p, temperature, ngram = 24, 0.9, 0.7, 2
    logits = _nucleus_logits(rows, vocab)
    rng = np.random.default_rng(1)
    allow = [_AllowSet(rng.choice(vocab, size=int(rng.integers(1, 200)), replace=True)) for _ in range(rows)]
    prompts = [[int(a.ids[0]), int(a.ids[-1]), int(a.ids[0])] for a in allow]  # a 2-gram to ban: (ids[0] -> ids[-1])
    cfg = SamplingConfig(temperature=temperature, top_p=top_p, greedy=greedy, banned_ids=(int(allow[3].ids[0]),),
                         no_repeat_ngram_size=ngram)
    free = {r for r in range(rows) if mixed and r % 5 == 0}
    states = [new_state(prompts[r], seed=5, key=r, ngram=ngram, constraint=None if r in free else allow[r])
              for r in range(rows)]
    got = select_next(logits.copy(), states, cfg)
    for r in range(rows):
        masked = np.full(vocab, -np.inf, dtype=np.float32)
        kept = np.arange(vocab) if r in free else allow[r].ids
        masked[kept] = logits[r, kept]
        masked[list(cfg.banned_ids)] = -np.inf
        if len(allow[r].ids) > 1:
            masked[int(allow[r].ids[-1])] = -np.inf  # the prompt's 2-gram, ids[0] -> ids[-1], may not repeat
        if not np.isfinite(masked).any():
            continue  # nothing allowed is left: no defined pick
        rng_r = new_state([1], seed=5, key=r, ngram=0).rng
        want = int(np.argmax(masked)) if greedy else _reference_pick(masked, top_p, temperature, rng_r)
        assert got[r] == want, r
