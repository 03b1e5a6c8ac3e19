// Host-callable launchers of the CUDA kernels. Plain C++ (no CUDA types) so that module.cpp
// compiles with the host compiler; kernels.cu implements them with nvcc.
//
// The launchers take host pointers to batches laid out as the CPU build produces them
// (TokenizedBatch in lexical.h, ShingledBatch in minhash.h), copy them to the current device,
// run one thread per item over the shared __host__ __device__ per-item functions in
// csrc/include/impdist/, and copy the results into host `out`. They assume the batch is
// well formed (module.cpp checks that) and throw std::runtime_error on any CUDA failure.
#pragma once
#include <cstdint>

namespace impdist::gpu {

// Visible CUDA devices; 0 (never an exception) when there is no driver or no GPU.
int device_count() noexcept;

// A TokenizedBatch viewed through host pointers: item i owns segments item_seg[i] ..
// item_seg[i+1]-1, i.e. ids[seg_off[item_seg[i]] .. seg_off[item_seg[i+1]]).
struct TokenizedView {
  const uint32_t* ids;
  int64_t n_ids;
  const int64_t* seg_off;   // n_seg + 1 entries
  int64_t n_seg;
  const int64_t* item_seg;  // n_items + 1 entries
  const uint32_t* d0;       // n_items entries
  const uint8_t* swapped;   // n_items entries (ROUGE only; may be null for BLEU)
  int64_t n_items;
};

// ROUGE rows [overlap, cand count, ref count] into out (n_items x 3); order 0 = LCS, 1..16 = n-grams.
void rouge_stats(const TokenizedView& batch, int order, int64_t* out);

// BLEU rows (kBleuStatsWidth columns, sacrebleu's layout) into out.
void bleu_stats(const TokenizedView& batch, int64_t* out);

// A ShingledBatch plus the texts' bytes: shingle j of text i spans
// bytes[text_off[i] + begin[j] .. + len[j]) for j in shingle_off[i] .. shingle_off[i+1]-1.
struct ShingledView {
  const uint8_t* bytes;
  int64_t n_bytes;
  const int64_t* text_off;     // n_texts + 1 entries
  const int64_t* shingle_off;  // n_texts + 1 entries
  const int64_t* begin;        // n_shingles entries
  const int64_t* len;          // n_shingles entries
  int64_t n_shingles;
  int64_t n_texts;
};

// Signatures into out (n_texts x num_perm): uint32 values for scheme 1 (affine32), uint64 otherwise.
void minhash(const ShingledView& batch, const uint64_t* a, const uint64_t* b, int num_perm, int scheme,
             void* out);

}  // namespace impdist::gpu
