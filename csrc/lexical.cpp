#include "lexical.h"

#include <algorithm>
#include <cmath>

#include "impdist/pair_stats.h"
#include "parallel.h"
#include "text/intern.h"
#include "text/tokenize.h"

namespace impdist {

void TokenizedBatch::append(const TokenizedBatch& o) {
  const int64_t id_base = int64_t(ids.size());
  const int64_t seg_base = int64_t(seg_off.size()) - 1;
  ids.insert(ids.end(), o.ids.begin(), o.ids.end());
  for (size_t k = 1; k < o.seg_off.size(); ++k) seg_off.push_back(o.seg_off[k] + id_base);
  for (size_t k = 1; k < o.item_seg.size(); ++k) item_seg.push_back(o.item_seg[k] + seg_base);
  d0.insert(d0.end(), o.d0.begin(), o.d0.end());
  swapped.insert(swapped.end(), o.swapped.begin(), o.swapped.end());
}

namespace {

// One tokenized item in the layout of pair_stats.h, plus the thread's reusable buffers.
struct LexWork {
  text::Tokens t0, t1;
  std::vector<text::Tokens> refs;
  text::Interner interner;
  std::vector<uint32_t> ids;
  std::vector<int64_t> seg;
  uint32_t d0 = 0;
  bool swapped = false;
  int64_t dropped = 0;
  std::vector<uint64_t> scratch;

  void* scratch_bytes(int64_t bytes) {
    const size_t words = size_t((bytes + 7) / 8);
    if (scratch.size() < words) scratch.resize(words);
    return scratch.data();
  }
  // Segment 0 gets dense ids; later segments look their tokens up (kNoId when absent).
  void set_segments(const text::Tokens& first, const text::Tokens* const* rest, int nrest) {
    interner.reset(first.tok.size());
    ids.clear();
    seg.assign(1, 0);
    for (auto t : first.tok) ids.push_back(interner.intern(t));
    d0 = interner.size();
    seg.push_back(int64_t(ids.size()));
    for (int r = 0; r < nrest; ++r) {
      for (auto t : rest[r]->tok) ids.push_back(interner.find(t));
      seg.push_back(int64_t(ids.size()));
    }
  }
  void add_to(TokenizedBatch& b) const {
    const int64_t base = int64_t(b.ids.size());
    b.ids.insert(b.ids.end(), ids.begin(), ids.end());
    for (size_t k = 1; k < seg.size(); ++k) b.seg_off.push_back(base + seg[k]);
    b.item_seg.push_back(int64_t(b.seg_off.size()) - 1);
    b.d0.push_back(d0);
    b.swapped.push_back(swapped);
  }
};

// Candidate and reference -> segments, the shorter side first (it becomes the LCS bit vector).
void rouge_item(std::string_view cand, std::string_view ref, bool stem, LexWork& w) {
  w.dropped += text::tokenize_rouge(cand.data(), cand.size(), stem, w.t0);
  w.dropped += text::tokenize_rouge(ref.data(), ref.size(), stem, w.t1);
  w.swapped = w.t1.tok.size() < w.t0.tok.size();
  const text::Tokens* other = w.swapped ? &w.t0 : &w.t1;
  w.set_segments(w.swapped ? w.t1 : w.t0, &other, 1);
}

void bleu_item(std::string_view hyp, const Strs& refs, int64_t lo, int64_t hi, LexWork& w) {
  text::tokenize_13a(hyp.data(), hyp.size(), w.t0);
  const int nr = int(hi - lo);
  if (int(w.refs.size()) < nr) w.refs.resize(nr);
  const text::Tokens* rp[64];
  std::vector<const text::Tokens*> rv;
  const text::Tokens** rptr = rp;
  if (nr > 64) { rv.resize(nr); rptr = rv.data(); }
  for (int r = 0; r < nr; ++r) {
    text::tokenize_13a(refs[lo + r].data(), refs[lo + r].size(), w.refs[r]);
    rptr[r] = &w.refs[r];
  }
  w.swapped = false;
  w.set_segments(w.t0, rptr, nr);
}

template <class ItemFn>
TokenizedBatch tokenize_batch(int64_t n, int threads, ItemFn&& item, int64_t* dropped) {
  const int nt = resolve_threads(threads);
  std::vector<TokenizedBatch> parts(nt);
  std::vector<int64_t> drops(nt, 0);
  parallel_chunks(n, threads, [&](int c, int64_t lo, int64_t hi) {
    LexWork w;
    for (int64_t i = lo; i < hi; ++i) {
      item(w, i);
      w.add_to(parts[c]);
    }
    drops[c] = w.dropped;
  });
  TokenizedBatch out;
  for (auto& p : parts) out.append(p);
  if (dropped) for (auto d : drops) *dropped += d;
  return out;
}

}  // namespace

int64_t rouge_stats(const Strs& cands, const Strs& refs, const std::vector<int32_t>& orders, bool stem,
                    int threads, int64_t* out) {
  int64_t dropped = 0;
  const int32_t K = int32_t(orders.size());
  parallel_for_items<LexWork>(
      int64_t(cands.size()), threads,
      [&](LexWork& w, int64_t i) {
        rouge_item(cands[i], refs[i], stem, w);
        const int64_t len0 = w.seg[1], len1 = w.seg[2] - w.seg[1];
        void* s = w.scratch_bytes(rouge_scratch_bytes(orders.data(), K, len0, len1, w.d0));
        rouge_item_stats(w.ids.data(), w.seg.data(), w.d0, w.swapped, orders.data(), K, s, out + 3 * K * i);
      },
      [&](LexWork& w) { dropped += w.dropped; });
  return dropped;
}

TokenizedBatch tokenize_rouge_batch(const Strs& cands, const Strs& refs, bool stem, int threads,
                                    int64_t* dropped) {
  return tokenize_batch(
      int64_t(cands.size()), threads, [&](LexWork& w, int64_t i) { rouge_item(cands[i], refs[i], stem, w); },
      dropped);
}

void bleu_stats(const Strs& hyps, const Strs& refs, const std::vector<int64_t>& ref_off, int threads,
                int64_t* out) {
  parallel_for_items<LexWork>(int64_t(hyps.size()), threads, [&](LexWork& w, int64_t i) {
    bleu_item(hyps[i], refs, ref_off[i], ref_off[i + 1], w);
    const int32_t nseg = int32_t(w.seg.size()) - 1;
    void* s = w.scratch_bytes(bleu_scratch_bytes(w.seg[1], w.seg[nseg] - w.seg[1], nseg - 1));
    bleu_item_stats(w.ids.data(), w.seg.data(), nseg, w.d0, s, out + kBleuStatsWidth * i);
  });
}

TokenizedBatch tokenize_bleu_batch(const Strs& hyps, const Strs& refs, const std::vector<int64_t>& ref_off,
                                   int threads) {
  return tokenize_batch(
      int64_t(hyps.size()), threads,
      [&](LexWork& w, int64_t i) { bleu_item(hyps[i], refs, ref_off[i], ref_off[i + 1], w); }, nullptr);
}

// rouge_score.scoring.fmeasure, operation for operation.
static double fmeasure(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

void rouge_scores(const int64_t* stats, int64_t n, int order, double* out) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ov = stats[3 * i], cand = stats[3 * i + 1], ref = stats[3 * i + 2];
    double p, r;
    if (order == 0) {  // _score_lcs
      if (cand == 0 || ref == 0) { p = r = 0.0; }
      else { p = double(ov) / double(cand); r = double(ov) / double(ref); }
    } else {  // _score_ngrams
      p = double(ov) / double(std::max<int64_t>(cand, 1));
      r = double(ov) / double(std::max<int64_t>(ref, 1));
    }
    out[3 * i] = p;
    out[3 * i + 1] = r;
    out[3 * i + 2] = fmeasure(p, r);
  }
}

// sacrebleu.metrics.bleu.BLEU.compute_bleu with smooth_method='exp', operation for operation.
double bleu_score(const int64_t* row, bool effective_order) {
  const int64_t sys_len = row[0], ref_len = row[1];
  const int64_t* correct = row + 2;
  const int64_t* total = row + 2 + kBleuMaxOrder;
  double bp = 1.0;
  if (sys_len < ref_len) bp = sys_len > 0 ? std::exp(1 - double(ref_len) / double(sys_len)) : 0.0;
  bool any = false;
  for (int n = 0; n < kBleuMaxOrder; ++n) any |= correct[n] != 0;
  if (!any) return 0.0;
  double precisions[kBleuMaxOrder] = {0.0, 0.0, 0.0, 0.0};
  double smooth_mteval = 1.0;
  int eff_order = kBleuMaxOrder;
  for (int n = 1; n <= kBleuMaxOrder; ++n) {
    if (total[n - 1] == 0) break;
    if (effective_order) eff_order = n;
    if (correct[n - 1] == 0) {
      smooth_mteval *= 2;
      precisions[n - 1] = 100. / (smooth_mteval * double(total[n - 1]));
    } else {
      precisions[n - 1] = 100. * double(correct[n - 1]) / double(total[n - 1]);
    }
  }
  double s = 0.0;
  for (int n = 0; n < eff_order; ++n) s += precisions[n] == 0.0 ? -9999999999.0 : std::log(precisions[n]);
  return bp * std::exp(s / eff_order);
}

}  // namespace impdist
