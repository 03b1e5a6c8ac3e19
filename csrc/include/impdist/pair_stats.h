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

IMPDIST_HD int64_t rouge_scratch_bytes(int32_t order, int64_t len0, int64_t len1, uint32_t d0) {
  if (order == 0) return lcs_scratch_words(int32_t(len0), d0) * 8;
  return ngram_scratch_bytes(len0, len1);
}

IMPDIST_HD void rouge_item_stats(const uint32_t* ids, const int64_t* seg_off, uint32_t d0,
                                 bool swapped, int32_t order, void* scratch, int64_t* out) {
  const int64_t len0 = seg_off[1] - seg_off[0], len1 = seg_off[2] - seg_off[1];
  const uint32_t* s0 = ids + seg_off[0];
  const uint32_t* s1 = ids + seg_off[1];
  int64_t overlap, c0, c1;
  if (order == 0) {
    // rouge-score returns 0 for an empty side; lcs_length does too.
    overlap = lcs_length(s0, int32_t(len0), d0, s1, int32_t(len1), static_cast<uint64_t*>(scratch));
    c0 = len0;
    c1 = len1;
  } else {
    NgramScratch s = ngram_scratch_carve(scratch, len0, len1);
    int64_t correct[16], total[16];  // order <= 16 is checked by the caller
    clipped_ngram_counts(s0, len0, d0, ids, seg_off + 1, 1, order, s, correct, total);
    overlap = correct[order - 1];
    c0 = total[order - 1];
    c1 = len1 - order + 1 > 0 ? len1 - order + 1 : 0;
  }
  out[0] = overlap;
  out[1] = swapped ? c1 : c0;
  out[2] = swapped ? c0 : c1;
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
