// MinHash signatures bit-identical to datasketch, and the shingling they are built from.
#pragma once
#include <cstdint>
#include <vector>

#include "lexical.h"
#include "text/unicode.h"

namespace impdist {

// Calls f(pointer, byte length) for each shingle of a text, in order: k = 0 for str.split()
// words, k > 0 for runs of k code points (the whole text when shorter, nothing when empty).
template <class F>
void for_each_shingle(const char* s, size_t n, int k, F&& f) {
  if (k == 0) {
    text::split_whitespace(s, n, f);
    return;
  }
  if (n == 0) return;
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  uint32_t cp;
  size_t lo = 0, hi = 0;  // the current shingle's bytes: k code points from lo
  int count = 0;
  while (count < k && hi < n) {
    hi += text::utf8_decode(u, n, hi, &cp);
    ++count;
  }
  f(s, hi);  // the first shingle, or the whole text when it has fewer than k code points
  while (hi < n) {
    hi += text::utf8_decode(u, n, hi, &cp);
    lo += text::utf8_decode(u, n, lo, &cp);
    f(s + lo, hi - lo);
  }
}

// The byte spans of for_each_shingle, as vectors.
void shingle_spans(const char* s, size_t n, int k, std::vector<int64_t>& begin, std::vector<int64_t>& len);

// Signatures, num_perm per text: uint32 rows for the affine32 scheme, uint64 otherwise.
void minhash(const Strs& texts, int k, const uint64_t* a, const uint64_t* b, int num_perm, int scheme,
             int threads, void* out);

// Shingles of a batch in CSR form for the CUDA kernel: shingle j of text i spans
// bytes[text_off[i] + begin[j] .. + len[j]) for j in shingle_off[i] .. shingle_off[i+1].
struct ShingledBatch {
  std::vector<int64_t> shingle_off{0}, begin, len;
};
ShingledBatch shingle_batch(const Strs& texts, int k);

// SHA-1 state of one byte string, on the fastest CPU path available (SHA-NI when present).
void sha1_cpu(const uint8_t* data, int64_t len, uint32_t h[5], bool allow_sha_ni = true);

// Four SHA-1 states at once (interleaved on SHA-NI when all four messages fit one block).
void sha1_cpu_x4(const uint8_t* const data[4], const int64_t len[4], uint32_t h[4][5]);

}  // namespace impdist
