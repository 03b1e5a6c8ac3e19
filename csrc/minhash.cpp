#include "minhash.h"

#include <algorithm>

#include "impdist/minhash.h"
#include "parallel.h"
#include "text/unicode.h"

namespace impdist {

void shingle_spans(const char* s, size_t n, int k, std::vector<int64_t>& begin, std::vector<int64_t>& len) {
  begin.clear();
  len.clear();
  if (k == 0) {
    text::split_whitespace(s, n, [&](const char* p, size_t l) {
      begin.push_back(p - s);
      len.push_back(int64_t(l));
    });
    return;
  }
  if (n == 0) return;
  // Code point starts; shingle i covers code points i .. i+k-1.
  std::vector<int64_t> cps;
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  for (size_t i = 0; i < n;) {
    cps.push_back(int64_t(i));
    uint32_t cp;
    i += text::utf8_decode(u, n, i, &cp);
  }
  const int64_t m = int64_t(cps.size());
  cps.push_back(int64_t(n));
  if (m < k) {
    begin.push_back(0);
    len.push_back(int64_t(n));
    return;
  }
  for (int64_t i = 0; i + k <= m; ++i) {
    begin.push_back(cps[i]);
    len.push_back(cps[i + k] - cps[i]);
  }
}

namespace {

// sig[j] = min(sig[j], permute(hv, a[j], b[j])) for every permutation. One function per scheme,
// each cloned for AVX2 and AVX-512 and picked at load time, so the loop vectorizes without -m flags.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IMPDIST_SIMD_CLONES __attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
#else
#define IMPDIST_SIMD_CLONES
#endif

IMPDIST_SIMD_CLONES void fold_legacy(uint64_t hv, const uint64_t* a, const uint64_t* b, int P, uint64_t* sig) {
  for (int j = 0; j < P; ++j) sig[j] = std::min(sig[j], minhash_permute(hv, a[j], b[j], kLegacy));
}
IMPDIST_SIMD_CLONES void fold_affine64(uint64_t hv, const uint64_t* a, const uint64_t* b, int P, uint64_t* sig) {
  for (int j = 0; j < P; ++j) sig[j] = std::min(sig[j], minhash_permute(hv, a[j], b[j], kAffine64));
}
IMPDIST_SIMD_CLONES void fold_affine32(uint64_t hv, const uint32_t* a, const uint32_t* b, int P, uint32_t* sig) {
  for (int j = 0; j < P; ++j) sig[j] = std::min(sig[j], uint32_t(minhash_permute(hv, a[j], b[j], kAffine32)));
}

inline void fold(uint64_t hv, const uint64_t* a, const uint64_t* b, int P, uint64_t* sig, int scheme) {
  if (scheme == kAffine64) fold_affine64(hv, a, b, P, sig);
  else fold_legacy(hv, a, b, P, sig);
}
inline void fold(uint64_t hv, const uint32_t* a, const uint32_t* b, int P, uint32_t* sig, int) {
  fold_affine32(hv, a, b, P, sig);
}

template <class T>
void minhash_rows(const Strs& texts, int k, const T* a, const T* b, int P, int scheme, int threads, T* out) {
  struct Work { std::vector<int64_t> begin, len; };
  parallel_for_items<Work>(int64_t(texts.size()), threads, [&](Work& w, int64_t i) {
    T* sig = out + i * P;
    std::fill(sig, sig + P, T(minhash_empty_value(scheme)));
    shingle_spans(texts[i].data(), texts[i].size(), k, w.begin, w.len);
    const auto* bytes = reinterpret_cast<const uint8_t*>(texts[i].data());
    const size_t n = w.begin.size();
    size_t s = 0;
    for (; s + 4 <= n; s += 4) {  // four shingles at a time: their hashes overlap in the SHA unit
      const uint8_t* d[4] = {bytes + w.begin[s], bytes + w.begin[s + 1], bytes + w.begin[s + 2],
                             bytes + w.begin[s + 3]};
      const int64_t l[4] = {w.len[s], w.len[s + 1], w.len[s + 2], w.len[s + 3]};
      uint32_t h[4][5];
      sha1_cpu_x4(d, l, h);
      for (int k = 0; k < 4; ++k) fold(minhash_input_from_digest(h[k], scheme), a, b, P, sig, scheme);
    }
    for (; s < n; ++s) {
      uint32_t h[5];
      sha1_cpu(bytes + w.begin[s], w.len[s], h);
      fold(minhash_input_from_digest(h, scheme), a, b, P, sig, scheme);
    }
  });
}

}  // namespace

void minhash(const Strs& texts, int k, const uint64_t* a, const uint64_t* b, int num_perm, int scheme,
             int threads, void* out) {
  if (scheme == kAffine32) {
    std::vector<uint32_t> a32(a, a + num_perm), b32(b, b + num_perm);
    minhash_rows(texts, k, a32.data(), b32.data(), num_perm, scheme, threads, static_cast<uint32_t*>(out));
  } else {
    minhash_rows(texts, k, a, b, num_perm, scheme, threads, static_cast<uint64_t*>(out));
  }
}

ShingledBatch shingle_batch(const Strs& texts, int k) {
  ShingledBatch out;
  std::vector<int64_t> begin, len;
  for (const auto& t : texts) {
    shingle_spans(t.data(), t.size(), k, begin, len);
    out.begin.insert(out.begin.end(), begin.begin(), begin.end());
    out.len.insert(out.len.end(), len.begin(), len.end());
    out.shingle_off.push_back(int64_t(out.begin.size()));
  }
  return out;
}

}  // namespace impdist
