// CUDA launchers of the lexical kernels. Only launch and memory layout live here: every item
// is computed by the __host__ __device__ functions of csrc/include/impdist/, the same code the
// CPU build runs and its tests check against rouge-score, sacrebleu and datasketch.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "impdist/minhash.h"
#include "impdist/pair_stats.h"
#include "kernels.h"

namespace impdist::gpu {
namespace {

[[noreturn]] void fail(cudaError_t err, const char* what, int line) {
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  throw std::runtime_error(std::string("CUDA error: ") + cudaGetErrorString(err) + " (" +
                           cudaGetErrorName(err) + " from " + what + ", kernels.cu:" +
                           std::to_string(line) + ")");
}

#define IMPDIST_CUDA_CHECK(expr)                              \
  do {                                                        \
    const cudaError_t impdist_err_ = (expr);                  \
    if (impdist_err_ != cudaSuccess) fail(impdist_err_, #expr, __LINE__); \
  } while (0)

// Owns one device allocation; frees it on every path, exceptions included.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    if (n_ > 0) IMPDIST_CUDA_CHECK(cudaMalloc(&p_, n_ * sizeof(T)));
  }
  // An array holding a copy of host[0 .. n).
  DeviceArray(const T* host, size_t n) : DeviceArray(n) {
    if (n_ > 0) IMPDIST_CUDA_CHECK(cudaMemcpy(p_, host, n_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~DeviceArray() {
    if (p_) cudaFree(p_);  // cannot throw from a destructor; a failure here is already reported
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return p_; }
  void download(T* host) const {
    if (n_ > 0) IMPDIST_CUDA_CHECK(cudaMemcpy(host, p_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
  }

 private:
  T* p_ = nullptr;
  size_t n_;
};

// Launch errors show at once; execution errors (bad address, ...) at the next synchronization.
void check_kernel(const char* name, int line) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) fail(err, name, line);
  err = cudaStreamSynchronize(0);
  if (err != cudaSuccess) fail(err, name, line);
}

// Grid-stride loops: the grid only needs to fill the GPU, and a capped grid keeps every launch
// valid however large n is.
constexpr int kItemBlock = 128;     // per-item kernels: heavy threads, local arrays
constexpr int kHashBlock = 256;
constexpr int64_t kMaxBlocks = 1 << 20;

unsigned grid_for(int64_t n, int block) {
  const int64_t blocks = (n + block - 1) / block;
  return unsigned(std::max<int64_t>(1, std::min(blocks, kMaxBlocks)));
}

__device__ __forceinline__ int64_t thread_index() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_stride() { return int64_t(gridDim.x) * blockDim.x; }

// Per-item scratch: each item's bytes rounded up to 8 (the per-item functions carve uint64
// arrays from it), exclusive-scanned into off[0 .. n]. Items are cut into chunks whose scratch
// fits a budget, so one allocation of the largest chunk serves every launch; an item larger
// than the budget gets a chunk (and the allocation) of its own.
constexpr int64_t kScratchBudget = int64_t(1) << 30;

struct ScratchPlan {
  std::vector<int64_t> off;  // n + 1 byte offsets
  std::vector<int64_t> cut;  // chunk boundaries in items: cut[0] = 0 .. cut.back() = n
  int64_t max_chunk = 0;     // bytes of the largest chunk
};

template <class BytesOf>
ScratchPlan plan_scratch(int64_t n, BytesOf bytes_of) {
  ScratchPlan p;
  p.off.resize(size_t(n) + 1);
  p.off[0] = 0;
  p.cut.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t b = (bytes_of(i) + 7) & ~int64_t(7);
    p.off[i + 1] = p.off[i] + b;
    if (i > p.cut.back() && p.off[i + 1] - p.off[p.cut.back()] > kScratchBudget) p.cut.push_back(i);
  }
  p.cut.push_back(n);
  for (size_t c = 0; c + 1 < p.cut.size(); ++c)
    p.max_chunk = std::max(p.max_chunk, p.off[p.cut[c + 1]] - p.off[p.cut[c]]);
  return p;
}

// The batch arrays on the device.
struct DeviceTokenized {
  DeviceArray<uint32_t> ids;
  DeviceArray<int64_t> seg_off, item_seg;
  DeviceArray<uint32_t> d0;
  explicit DeviceTokenized(const TokenizedView& b)
      : ids(b.ids, size_t(b.n_ids)),
        seg_off(b.seg_off, size_t(b.n_seg) + 1),
        item_seg(b.item_seg, size_t(b.n_items) + 1),
        d0(b.d0, size_t(b.n_items)) {}
};

// kLcs fixes the order to 0 so the LCS kernel carries no n-gram code (nor its local arrays);
// the n-gram kernel is told order >= 1 so it carries no LCS code.
template <bool kLcs>
__global__ void rouge_kernel(const uint32_t* ids, const int64_t* seg_off, const int64_t* item_seg,
                             const uint32_t* d0, const uint8_t* swapped, int order, int64_t lo, int64_t hi,
                             const int64_t* scratch_off, char* scratch, int64_t* out) {
  if (kLcs) order = 0;
  else __builtin_assume(order >= 1);
  const int64_t base = scratch_off[lo];
  for (int64_t i = lo + thread_index(); i < hi; i += thread_stride())
    rouge_item_stats(ids, seg_off + item_seg[i], d0[i], swapped[i] != 0, order,
                     scratch + (scratch_off[i] - base), out + 3 * i);
}

__global__ void bleu_kernel(const uint32_t* ids, const int64_t* seg_off, const int64_t* item_seg,
                            const uint32_t* d0, int64_t lo, int64_t hi, const int64_t* scratch_off,
                            char* scratch, int64_t* out) {
  const int64_t base = scratch_off[lo];
  for (int64_t i = lo + thread_index(); i < hi; i += thread_stride()) {
    const int32_t nseg = int32_t(item_seg[i + 1] - item_seg[i]);
    bleu_item_stats(ids, seg_off + item_seg[i], nseg, d0[i], scratch + (scratch_off[i] - base),
                    out + kBleuStatsWidth * i);
  }
}

// Calls launch(lo, hi, grid, scratch_off, scratch) per chunk of the plan; launches on one stream run in
// order, so the chunks can share the scratch allocation.
template <class Launch>
void run_chunks(const ScratchPlan& plan, const char* name, int line, Launch launch) {
  DeviceArray<int64_t> off(plan.off.data(), plan.off.size());
  DeviceArray<char> scratch{size_t(plan.max_chunk)};
  for (size_t c = 0; c + 1 < plan.cut.size(); ++c) {
    const int64_t lo = plan.cut[c], hi = plan.cut[c + 1];
    if (lo == hi) continue;
    launch(lo, hi, grid_for(hi - lo, kItemBlock), off.get(), scratch.get());
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) fail(err, name, line);
  }
  check_kernel(name, line);
}

// Length of segment k of item i.
struct Segs {
  const int64_t* seg_off;
  const int64_t* item_seg;
  int64_t len(int64_t i, int k) const {
    const int64_t s = item_seg[i] + k;
    return seg_off[s + 1] - seg_off[s];
  }
};

}  // namespace

int device_count() noexcept {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();  // no driver / no device is an answer here, not an error to keep
    return 0;
  }
  return n;
}

void rouge_stats(const TokenizedView& b, int order, int64_t* out) {
  const int64_t n = b.n_items;
  if (n == 0) return;
  const Segs seg{b.seg_off, b.item_seg};
  const ScratchPlan plan = plan_scratch(n, [&](int64_t i) {
    return rouge_scratch_bytes(order, seg.len(i, 0), seg.len(i, 1), b.d0[i]);
  });
  DeviceTokenized d(b);
  DeviceArray<uint8_t> swapped(b.swapped, size_t(n));
  DeviceArray<int64_t> rows(size_t(n) * 3);
  run_chunks(plan, "rouge_kernel", __LINE__, [&](int64_t lo, int64_t hi, unsigned grid, const int64_t* off, char* s) {
    if (order == 0)
      rouge_kernel<true><<<grid, kItemBlock>>>(d.ids.get(), d.seg_off.get(), d.item_seg.get(), d.d0.get(),
                                               swapped.get(), order, lo, hi, off, s, rows.get());
    else
      rouge_kernel<false><<<grid, kItemBlock>>>(d.ids.get(), d.seg_off.get(), d.item_seg.get(), d.d0.get(),
                                                swapped.get(), order, lo, hi, off, s, rows.get());
  });
  rows.download(out);
}

void bleu_stats(const TokenizedView& b, int64_t* out) {
  const int64_t n = b.n_items;
  if (n == 0) return;
  const Segs seg{b.seg_off, b.item_seg};
  const ScratchPlan plan = plan_scratch(n, [&](int64_t i) {
    const int64_t nseg = b.item_seg[i + 1] - b.item_seg[i];
    const int64_t s = b.item_seg[i];
    return bleu_scratch_bytes(seg.len(i, 0), b.seg_off[s + nseg] - b.seg_off[s + 1], int32_t(nseg - 1));
  });
  DeviceTokenized d(b);
  DeviceArray<int64_t> rows(size_t(n) * kBleuStatsWidth);
  run_chunks(plan, "bleu_kernel", __LINE__, [&](int64_t lo, int64_t hi, unsigned grid, const int64_t* off, char* s) {
    bleu_kernel<<<grid, kItemBlock>>>(d.ids.get(), d.seg_off.get(), d.item_seg.get(), d.d0.get(), lo, hi, off, s,
                                      rows.get());
  });
  rows.download(out);
}

namespace {

// The text owning shingle s: the largest d < n with off[d] <= s. Texts without shingles repeat
// an offset, and taking the largest such d skips them.
__device__ __forceinline__ int64_t owner_of(const int64_t* off, int64_t n, int64_t s) {
  int64_t lo = 0, hi = n;  // off[lo] <= s; the answer lies in [lo, hi)
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (off[mid] <= s) lo = mid;
    else hi = mid;
  }
  return lo;
}

// Step 1, one thread per shingle: the value the permutations see (SHA-1 and the scheme's mix).
template <int32_t kScheme>
__global__ void shingle_hash_kernel(const uint8_t* bytes, const int64_t* text_off, const int64_t* shingle_off,
                                    int64_t n_texts, const int64_t* begin, const int64_t* len, int64_t n_shingles,
                                    uint64_t* hv) {
  for (int64_t s = thread_index(); s < n_shingles; s += thread_stride()) {
    const int64_t doc = owner_of(shingle_off, n_texts, s);
    hv[s] = minhash_input(bytes + text_off[doc] + begin[s], len[s], kScheme);
  }
}

// Step 2, one thread per (text, permutation), permutation fastest: a warp shares its text, so
// the loop bounds agree and hv[s] is one broadcast read.
template <int32_t kScheme, class T>
__global__ void signature_kernel(const uint64_t* hv, const int64_t* shingle_off, int64_t n_texts,
                                 const uint64_t* a, const uint64_t* b, int num_perm, T* out) {
  const int64_t total = n_texts * num_perm;
  for (int64_t t = thread_index(); t < total; t += thread_stride()) {
    const int64_t doc = t / num_perm;
    const int j = int(t - doc * num_perm);
    const uint64_t aj = a[j], bj = b[j];
    uint64_t m = minhash_empty_value(kScheme);
    for (int64_t s = shingle_off[doc], e = shingle_off[doc + 1]; s < e; ++s) {
      const uint64_t v = minhash_permute(hv[s], aj, bj, kScheme);
      m = v < m ? v : m;
    }
    out[t] = T(m);
  }
}

template <int32_t kScheme, class T>
void minhash_scheme(const ShingledView& s, const uint64_t* a, const uint64_t* b, int num_perm, T* out) {
  const int64_t n = s.n_texts, S = s.n_shingles;
  DeviceArray<int64_t> shingle_off(s.shingle_off, size_t(n) + 1);
  DeviceArray<uint64_t> hv{size_t(S)};
  if (S > 0) {
    DeviceArray<uint8_t> bytes(s.bytes, size_t(s.n_bytes));
    DeviceArray<int64_t> text_off(s.text_off, size_t(n) + 1);
    DeviceArray<int64_t> begin(s.begin, size_t(S)), len(s.len, size_t(S));
    shingle_hash_kernel<kScheme><<<grid_for(S, kHashBlock), kHashBlock>>>(
        bytes.get(), text_off.get(), shingle_off.get(), n, begin.get(), len.get(), S, hv.get());
    check_kernel("shingle_hash_kernel", __LINE__);  // before the inputs are freed
  }
  DeviceArray<uint64_t> da(a, size_t(num_perm)), db(b, size_t(num_perm));
  DeviceArray<T> sig(size_t(n) * size_t(num_perm));
  signature_kernel<kScheme, T><<<grid_for(n * num_perm, kHashBlock), kHashBlock>>>(
      hv.get(), shingle_off.get(), n, da.get(), db.get(), num_perm, sig.get());
  check_kernel("signature_kernel", __LINE__);
  sig.download(out);
}

}  // namespace

void minhash(const ShingledView& s, const uint64_t* a, const uint64_t* b, int num_perm, int scheme, void* out) {
  if (s.n_texts == 0 || num_perm <= 0) return;
  switch (scheme) {
    case kLegacy: return minhash_scheme<kLegacy>(s, a, b, num_perm, static_cast<uint64_t*>(out));
    case kAffine32: return minhash_scheme<kAffine32>(s, a, b, num_perm, static_cast<uint32_t*>(out));
    case kAffine64: return minhash_scheme<kAffine64>(s, a, b, num_perm, static_cast<uint64_t*>(out));
    default: throw std::invalid_argument("minhash: unknown scheme " + std::to_string(scheme));
  }
}

}  // namespace impdist::gpu
