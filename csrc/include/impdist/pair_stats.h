// Per-item sufficient statistics of ROUGE and BLEU from token ids: the one place that turns a
// tokenized pair into the integers the scores are computed from, for the CPU and CUDA paths.
//
// A tokenized item is a run of id segments: segment 0 carries dense ids 0..d0-1 (interned
// first); ids >= d0 in later segments are tokens absent from segment 0.
//   ROUGE: segment 0 = the shorter of (candidate, reference), segment 1 = the other; `swapped`
//          says segment 0 is the reference. Stats row: [overlap, candidate count, reference count]
//          where overlap is the LCS length (order 0) or the clipped n-gram overlap (order n), and
//          the counts are tokens (LCS) or n-grams (ROUGE-N).
//   BLEU:  segment 0 = hypothesis, segments 1.. = references. Stats row (sacrebleu's layout):
//          [hyp_len, closest ref_len, correct_1..correct_N, total_1..total_N].
#pragma once
#include "hd.h"
#include "lcs.h"
#include "ngram_match.h"

namespace impdist {

constexpr int32_t kBleuMaxOrder = 4;
constexpr int32_t kBleuStatsWidth = 2 + 2 * kBleuMaxOrder;

// Scratch bytes of rouge_item_stats for the given orders (the LCS and the n-gram counts run one
// after the other in the same scratch).
IMPDIST_HD int64_t rouge_scratch_bytes(const int32_t* orders, int32_t norders, int64_t len0, int64_t len1,
                                       uint32_t d0) {
  int64_t bytes = 0;
  for (int32_t k = 0; k < norders; ++k) {
    const int64_t b = orders[k] == 0 ? lcs_scratch_words(int32_t(len0), d0) * 8 : ngram_scratch_bytes(len0, len1);
    if (b > bytes) bytes = b;
  }
  return bytes;
}
IMPDIST_HD int64_t rouge_scratch_bytes(int32_t order, int64_t len0, int64_t len1, uint32_t d0) {
  return rouge_scratch_bytes(&order, 1, len0, len1, d0);
}

// Stats rows of several ROUGE types of one item, out[3k..3k+2] for orders[k], in one pass: one
// clipped n-gram count up to the largest n (it yields every lower order on the way) and at most
// one LCS, so ROUGE-1+2+L costs one tokenization and two kernels, not three of each.
IMPDIST_HD void rouge_item_stats(const uint32_t* ids, const int64_t* seg_off, uint32_t d0, bool swapped,
                                 const int32_t* orders, int32_t norders, void* scratch, int64_t* out) {
  const int64_t len0 = seg_off[1] - seg_off[0], len1 = seg_off[2] - seg_off[1];
  const uint32_t* s0 = ids + seg_off[0];
  const uint32_t* s1 = ids + seg_off[1];
  int32_t max_n = 0;
  bool lcs = false;
  for (int32_t k = 0; k < norders; ++k) {
    if (orders[k] == 0) lcs = true;
    else if (orders[k] > max_n) max_n = orders[k];
  }
  int64_t correct[16], total[16];  // order <= 16 is checked by the caller
  if (max_n > 0) {
    NgramScratch s = ngram_scratch_carve(scratch, len0, len1);
    clipped_ngram_counts(s0, len0, d0, ids, seg_off + 1, 1, max_n, s, correct, total);
  }
  // rouge-score returns 0 for an empty side; lcs_length does too.
  const int64_t lcs_len = lcs ? lcs_length(s0, int32_t(len0), d0, s1, int32_t(len1), static_cast<uint64_t*>(scratch)) : 0;
  for (int32_t k = 0; k < norders; ++k) {
    const int32_t order = orders[k];
    int64_t overlap, c0, c1;
    if (order == 0) {
      overlap = lcs_len;
      c0 = len0;
      c1 = len1;
    } else {
      overlap = correct[order - 1];
      c0 = total[order - 1];
      c1 = len1 - order + 1 > 0 ? len1 - order + 1 : 0;
    }
    out[3 * k] = overlap;
    out[3 * k + 1] = swapped ? c1 : c0;
    out[3 * k + 2] = swapped ? c0 : c1;
  }
}

// One ROUGE type: [overlap, candidate count, reference count] where overlap is the LCS length
// (order 0) or the clipped n-gram overlap (order n), and the counts are tokens or n-grams.
IMPDIST_HD void rouge_item_stats(const uint32_t* ids, const int64_t* seg_off, uint32_t d0,
                                 bool swapped, int32_t order, void* scratch, int64_t* out) {
  rouge_item_stats(ids, seg_off, d0, swapped, &order, 1, scratch, out);
}

IMPDIST_HD int64_t bleu_scratch_bytes(int64_t hyp_len, int64_t refs_len, int32_t nrefs) {
  return ngram_scratch_bytes(hyp_len, refs_len) + int64_t(nrefs) * 8;
}

IMPDIST_HD void bleu_item_stats(const uint32_t* ids, const int64_t* seg_off, int32_t nseg, uint32_t d0,
                                void* scratch, int64_t* out) {
  const int64_t H = seg_off[1] - seg_off[0];
  const int32_t nrefs = nseg - 1;
  const int64_t R = seg_off[nseg] - seg_off[1];
  char* base = static_cast<char*>(scratch);
  int64_t* ref_lens = reinterpret_cast<int64_t*>(base);
  for (int32_t r = 0; r < nrefs; ++r) ref_lens[r] = seg_off[r + 2] - seg_off[r + 1];
  NgramScratch s = ngram_scratch_carve(base + int64_t(nrefs) * 8, H, R);
  out[0] = H;
  out[1] = closest_ref_len(H, ref_lens, nrefs);
  clipped_ngram_counts(ids + seg_off[0], H, d0, ids, seg_off + 1, nrefs, kBleuMaxOrder, s, out + 2,
                       out + 2 + kBleuMaxOrder);
}

}  // namespace impdist
