// Longest common subsequence length on token-id sequences, bit-parallel (Hyyro 2004).
//
// `a` must carry dense ids 0..da-1 (the shorter side, interned first); any id >= da in
// `b` is a token absent from `a`. Cost: O(len(b) * ceil(len(a)/64)) word operations.
#pragma once
#include "hd.h"

namespace impdist {

// Number of uint64 words of scratch lcs_length needs.
IMPDIST_HD int64_t lcs_scratch_words(int32_t m, uint32_t da) {
  const int64_t w = (static_cast<int64_t>(m) + 63) / 64;
  return (static_cast<int64_t>(da) + 1) * w;
}

IMPDIST_HD int32_t lcs_length(const uint32_t* a, int32_t m, uint32_t da, const uint32_t* b,
                              int32_t n, uint64_t* work) {
  if (m == 0 || n == 0) return 0;
  const int32_t W = (m + 63) / 64;
  uint64_t* V = work;       // W words: the bit vector of the current column
  uint64_t* PM = work + W;  // da * W words: match masks per distinct id of `a`
  for (int64_t i = 0; i < static_cast<int64_t>(da) * W; ++i) PM[i] = 0;
  for (int32_t i = 0; i < m; ++i) PM[static_cast<int64_t>(a[i]) * W + (i >> 6)] |= 1ull << (i & 63);
  for (int32_t w = 0; w < W; ++w) V[w] = ~0ull;
  for (int32_t j = 0; j < n; ++j) {
    const uint32_t id = b[j];
    if (id >= da) continue;  // U == 0 leaves V unchanged
    const uint64_t* pm = PM + static_cast<int64_t>(id) * W;
    uint64_t carry = 0, borrow = 0;
    for (int32_t w = 0; w < W; ++w) {
      const uint64_t v = V[w], u = v & pm[w];
      // sum = v + u + carry, diff = v - u - borrow, across words
      const uint64_t s1 = v + u;
      const uint64_t sum = s1 + carry;
      carry = (s1 < v) | (sum < s1);
      const uint64_t d1 = v - u;
      const uint64_t diff = d1 - borrow;
      borrow = (v < u) | (d1 < borrow);
      V[w] = sum | diff;
    }
  }
  int32_t zeros = 0;
  for (int32_t w = 0; w < W; ++w) {
    uint64_t v = V[w];
    const int32_t bits = (w == W - 1 && (m & 63)) ? (m & 63) : 64;
    if (bits < 64) v |= ~0ull << bits;  // ignore bits beyond m
#if defined(__CUDA_ARCH__)
    zeros += 64 - __popcll(v);
#else
    zeros += 64 - __builtin_popcountll(v);
#endif
  }
  return zeros;
}

}  // namespace impdist
