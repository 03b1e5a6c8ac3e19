// Clipped n-gram match counts between one hypothesis and its references, on token ids.
//
// This is the per-item core of BLEU (sacrebleu's `correct`/`total`) and ROUGE-N (rouge-score's
// overlap count). Tokens are compared by id: the hypothesis carries dense ids 0..dh-1 (interned
// first), and a reference id >= dh is a token absent from the hypothesis. N-grams get exact dense
// ids order by order, interning (id of the (n-1)-gram prefix, last token) in a small hash table,
// so nothing can collide and the cost is linear in the lengths.
#pragma once
#include "hd.h"

namespace impdist {

constexpr uint32_t kNoId = 0xffffffffu;

struct NgramScratch {
  uint64_t* keys;   // table_size
  uint32_t* vals;   // table_size
  uint32_t* hcur;   // H: hypothesis n-gram ids of the current order
  uint32_t* rcur;   // sum of reference lengths: reference n-gram ids of the current order
  int64_t* cnt_h;   // H
  int64_t* cnt_r;   // H
  int64_t* max_r;   // H
  uint32_t* direct; // direct_size: (prefix id, token) -> id when the key space is small
  uint32_t table_size;  // power of two >= 2H
  uint32_t direct_size;
};

// Key spaces up to this size use a directly indexed table instead of hashing: typical
// sentences (a few dozen tokens) then never hash at all.
IMPDIST_HD uint32_t ngram_direct_size(int64_t H) { return uint32_t(16 * H + 256); }

IMPDIST_HD uint32_t ngram_table_size(int64_t H) {
  uint32_t s = 16;
  while (s < 2 * H) s <<= 1;
  return s;
}

// Bytes of scratch clipped_ngram_counts needs for a hypothesis of length H and references of
// total length R; carve it with ngram_scratch_carve.
IMPDIST_HD int64_t ngram_scratch_bytes(int64_t H, int64_t R) {
  const int64_t T = ngram_table_size(H);
  return T * 8 + T * 4 + H * 4 + R * 4 + 3 * H * 8 + int64_t(ngram_direct_size(H)) * 4 + 64;
}

IMPDIST_HD NgramScratch ngram_scratch_carve(void* base, int64_t H, int64_t /*R: rcur fills the rest*/) {
  NgramScratch s;
  s.table_size = ngram_table_size(H);
  char* p = static_cast<char*>(base);
  s.keys = reinterpret_cast<uint64_t*>(p);  p += int64_t(s.table_size) * 8;
  s.cnt_h = reinterpret_cast<int64_t*>(p);  p += H * 8;
  s.cnt_r = reinterpret_cast<int64_t*>(p);  p += H * 8;
  s.max_r = reinterpret_cast<int64_t*>(p);  p += H * 8;
  s.vals = reinterpret_cast<uint32_t*>(p);  p += int64_t(s.table_size) * 4;
  s.hcur = reinterpret_cast<uint32_t*>(p);  p += H * 4;
  s.direct_size = ngram_direct_size(H);
  s.direct = reinterpret_cast<uint32_t*>(p);  p += int64_t(s.direct_size) * 4;
  s.rcur = reinterpret_cast<uint32_t*>(p);
  return s;
}

IMPDIST_HD uint32_t ngram_slot(uint64_t key, uint32_t mask) {
  return static_cast<uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

// For orders 1..max_n: correct[n-1] = sum over hypothesis n-grams of min(count in hypothesis,
// max count in any single reference); total[n-1] = number of hypothesis n-grams.
// refs holds the references back to back; ref_off[r]..ref_off[r+1] delimits reference r.
IMPDIST_HD void clipped_ngram_counts(const uint32_t* hyp, int64_t H, uint32_t dh,
                                     const uint32_t* refs, const int64_t* ref_off, int32_t nrefs,
                                     int32_t max_n, NgramScratch s, int64_t* correct,
                                     int64_t* total) {
  const int64_t R = ref_off[nrefs] - ref_off[0];
  const uint32_t mask = s.table_size - 1;
  const uint64_t kEmpty = ~0ull;
  for (int64_t i = 0; i < H; ++i) s.hcur[i] = hyp[i];
  for (int64_t j = 0; j < R; ++j) {
    const uint32_t t = refs[ref_off[0] + j];
    s.rcur[j] = t < dh ? t : kNoId;
  }
  uint32_t D = dh;  // number of distinct hypothesis n-grams of the current order
  for (int32_t n = 1; n <= max_n; ++n) {
    const int64_t Hn = H - n + 1;
    total[n - 1] = Hn > 0 ? Hn : 0;
    if (Hn <= 0) {
      correct[n - 1] = 0;
      continue;
    }
    // (prefix id, last token) keys: prefix ids < D of the previous order, tokens < dh.
    const bool direct = uint64_t(D) * dh <= s.direct_size;
    if (n > 1) {  // intern (prefix id, last token) of the hypothesis into dense ids
      const uint32_t prev_D = D;
      D = 0;
      if (direct) {
        for (uint32_t k = 0; k < prev_D * dh; ++k) s.direct[k] = kNoId;
        for (int64_t i = 0; i < Hn; ++i) {
          uint32_t& slot = s.direct[s.hcur[i] * dh + hyp[i + n - 1]];
          if (slot == kNoId) slot = D++;
          s.hcur[i] = slot;
        }
      } else {
        for (uint32_t k = 0; k < s.table_size; ++k) s.keys[k] = kEmpty;
        for (int64_t i = 0; i < Hn; ++i) {
          const uint64_t key = (uint64_t(s.hcur[i]) << 32) | hyp[i + n - 1];
          uint32_t k = ngram_slot(key, mask);
          while (s.keys[k] != kEmpty && s.keys[k] != key) k = (k + 1) & mask;
          if (s.keys[k] == kEmpty) {
            s.keys[k] = key;
            s.vals[k] = D++;
          }
          s.hcur[i] = s.vals[k];
        }
      }
    }
    for (uint32_t d = 0; d < D; ++d) s.cnt_h[d] = s.cnt_r[d] = s.max_r[d] = 0;
    for (int64_t i = 0; i < Hn; ++i) ++s.cnt_h[s.hcur[i]];
    for (int32_t r = 0; r < nrefs; ++r) {
      const int64_t lo = ref_off[r] - ref_off[0], len = ref_off[r + 1] - ref_off[r];
      const int64_t Rn = len - n + 1;
      for (int64_t j = 0; j < Rn; ++j) {
        uint32_t id = s.rcur[lo + j];
        if (n > 1 && id != kNoId) {  // look up, never insert: absent from hypothesis stays absent
          const uint32_t last = refs[ref_off[r] + j + n - 1];
          if (last >= dh) {
            id = kNoId;
          } else if (direct) {
            id = s.direct[id * dh + last];
          } else {
            const uint64_t key = (uint64_t(id) << 32) | last;
            uint32_t k = ngram_slot(key, mask);
            while (s.keys[k] != kEmpty && s.keys[k] != key) k = (k + 1) & mask;
            id = s.keys[k] == key ? s.vals[k] : kNoId;
          }
          s.rcur[lo + j] = id;
        }
        if (id != kNoId) ++s.cnt_r[id];
      }
      for (uint32_t d = 0; d < D; ++d) {
        if (s.cnt_r[d] > s.max_r[d]) s.max_r[d] = s.cnt_r[d];
        s.cnt_r[d] = 0;
      }
    }
    int64_t c = 0;
    for (uint32_t d = 0; d < D; ++d) c += s.cnt_h[d] < s.max_r[d] ? s.cnt_h[d] : s.max_r[d];
    correct[n - 1] = c;
    if (c == 0) {  // no n-gram matched, so no longer one can: finish without interning
      for (int32_t m = n + 1; m <= max_n; ++m) {
        total[m - 1] = H - m + 1 > 0 ? H - m + 1 : 0;
        correct[m - 1] = 0;
      }
      return;
    }
  }
}

// sacrebleu's closest reference length: smallest |hyp_len - ref_len|, ties to the shorter.
IMPDIST_HD int64_t closest_ref_len(int64_t hyp_len, const int64_t* ref_lens, int32_t nrefs) {
  int64_t best_diff = -1, best = -1;
  for (int32_t r = 0; r < nrefs; ++r) {
    const int64_t d = hyp_len > ref_lens[r] ? hyp_len - ref_lens[r] : ref_lens[r] - hyp_len;
    if (best_diff == -1 || d < best_diff) {
      best_diff = d;
      best = ref_lens[r];
    } else if (d == best_diff && ref_lens[r] < best) {
      best = ref_lens[r];
    }
  }
  return best;
}

}  // namespace impdist
