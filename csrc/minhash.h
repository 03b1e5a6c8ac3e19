// MinHash signatures bit-identical to datasketch, and the shingling they are built from.
#pragma once
#include <cstdint>
#include <vector>

#include "lexical.h"

namespace impdist {

// Byte spans of a text's shingles: k = 0 for str.split() words, k > 0 for runs of k code
// points (the whole text when shorter, nothing when empty).
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
