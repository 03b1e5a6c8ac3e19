#include "minhash.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "impdist/minhash.h"
#include "parallel.h"
#include "text/intern.h"
#include "text/unicode.h"

namespace impdist {

void shingle_spans(const char* s, size_t n, int k, std::vector<int64_t>& begin, std::vector<int64_t>& len) {
  begin.clear();
  len.clear();
  for_each_shingle(s, n, k, [&](const char* p, size_t l) {
    begin.push_back(p - s);
    len.push_back(int64_t(l));
  });
}

namespace {

// sig[j] = min(sig[j], permute(hv[t], a[j], b[j])) over a document's shingle inputs hv[0..m).
// Permutations go in blocks of kPermBlock whose running minima stay in registers while every
// input of the document passes (rensa's loop order); the block loop vectorizes over the
// permutations. Cloned for AVX2 and AVX-512 and picked at load time, so no -m flags are needed.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IMPDIST_SIMD_CLONES __attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
#else
#define IMPDIST_SIMD_CLONES
#endif

constexpr unsigned kPermBlock = 64;

// always_inline: each SIMD clone below must compile this loop for its own target. Pointers, not
// int offsets, walk the blocks: Python builds with -fwrapv, under which `j0 + j` may wrap and the
// loop would no longer vectorize.
template <class T, int Scheme>
__attribute__((always_inline)) inline void fold_inputs(const uint64_t* hv, int64_t m, const T* a, const T* b, int P,
                                                       T* sig) {
  for (int blocks = P / kPermBlock; blocks > 0; --blocks, a += kPermBlock, b += kPermBlock, sig += kPermBlock) {
    T cur[kPermBlock];
    for (unsigned j = 0; j < kPermBlock; ++j) cur[j] = sig[j];
    for (const uint64_t* h = hv; h != hv + m; ++h)
      for (unsigned j = 0; j < kPermBlock; ++j) cur[j] = std::min(cur[j], T(minhash_permute(*h, a[j], b[j], Scheme)));
    for (unsigned j = 0; j < kPermBlock; ++j) sig[j] = cur[j];
  }
  const unsigned rest = unsigned(P % kPermBlock);
  for (const uint64_t* h = hv; h != hv + m; ++h)
    for (unsigned j = 0; j < rest; ++j) sig[j] = std::min(sig[j], T(minhash_permute(*h, a[j], b[j], Scheme)));
}

IMPDIST_SIMD_CLONES void fold(const uint64_t* hv, int64_t m, const uint32_t* a, const uint32_t* b, int P,
                              uint32_t* sig, int) {
  fold_inputs<uint32_t, kAffine32>(hv, m, a, b, P, sig);
}
IMPDIST_SIMD_CLONES void fold(const uint64_t* hv, int64_t m, const uint64_t* a, const uint64_t* b, int P,
                              uint64_t* sig, int scheme) {
  if (scheme == kAffine64) fold_inputs<uint64_t, kAffine64>(hv, m, a, b, P, sig);
  else fold_inputs<uint64_t, kLegacy>(hv, m, a, b, P, sig);
}

// Shingle bytes -> the permutations' input, so each distinct shingle is SHA-1 hashed once per
// call and thread. Shingles up to 16 bytes are their own key (two words and the length, so a hit
// reads one slot and never the text it came from); longer ones are keyed by hash and compared
// byte for byte. Open addressing, load <= 1/2; the slots of a document are prefetched before
// they are probed, so its cache misses overlap.
class ShingleCache {
 public:
  static constexpr uint32_t kMaxSize = 1u << 22;  // bounds memory on huge vocabularies
  ShingleCache() { grow(2048); }

  struct Key {
    uint64_t w0, w1, hash;
    uint32_t len;
  };
  static Key key(const char* p, size_t n) {
    Key k;
    k.len = uint32_t(n);
    if (n <= 16) {
      if (n >= 8) {
        k.w0 = text::load_u64(p);
        k.w1 = n > 8 ? text::load_u64(p + n - 8) >> (8 * (16 - n)) : 0;  // bytes 8..n-1
      } else if (n >= 4) {
        k.w0 = text::load_u32(p) | text::load_u32(p + n - 4) << 32;  // overlapping: all n bytes
        k.w1 = 0;
      } else {
        k.w0 = 0;
        for (size_t i = 0; i < n; ++i) k.w0 |= uint64_t(uint8_t(p[i])) << (8 * i);
        k.w1 = 0;
      }
      k.hash = text::mix64(k.w0 ^ 0xA0761D6478BD642Full, k.w1 ^ 0xE7037ED1A0B428DBull ^ n);
    } else {
      k.hash = text::hash_bytes(p, n);
      k.w0 = k.hash;
      k.w1 = reinterpret_cast<uintptr_t>(p);  // the first occurrence's bytes, alive for the call
    }
    return k;
  }

  // Room for `more` insertions without growing (slot indices stay valid until the next call).
  void reserve(size_t more) {
    if (size_ + more > kMaxSize) clear();
    if (2 * (size_ + more) > slots_.size()) grow(size_ + more);
  }
  void prefetch(const Key& k) const { __builtin_prefetch(&slots_[k.hash & mask_]); }

  // The slot of key k; `fresh` says it was just added (its value is to be filled in).
  size_t find_or_add(const Key& k, const char* p, bool* fresh) {
    size_t i = k.hash & mask_;
    while (slots_[i].gen == gen_) {
      const Slot& s = slots_[i];
      if (s.len == k.len && s.w0 == k.w0 &&
          (k.len <= 16 ? s.w1 == k.w1
                       : text::same_bytes(reinterpret_cast<const char*>(s.w1), p, k.len))) {
        *fresh = false;
        return i;
      }
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{k.w0, k.w1, k.len, gen_, 0};
    ++size_;
    *fresh = true;
    return i;
  }
  uint64_t& value(size_t slot) { return slots_[slot].value; }

 private:
  struct Slot {
    uint64_t w0, w1;
    uint32_t len, gen;  // live when gen equals the cache's generation
    uint64_t value;
  };
  void clear() {
    size_ = 0;
    if (++gen_ == 0) {
      slots_.zero();
      gen_ = 1;
    }
  }
  void grow(size_t want) {
    size_t cap = slots_.empty() ? 16 : slots_.size();
    while (cap < 2 * want) cap <<= 1;
    SlotArray old(cap);
    old.swap(slots_);
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.gen != gen_) continue;
      const uint64_t h = s.len <= 16 ? text::mix64(s.w0 ^ 0xA0761D6478BD642Full, s.w1 ^ 0xE7037ED1A0B428DBull ^ s.len)
                                     : s.w0;
      size_t i = h & mask_;
      while (slots_[i].gen == gen_) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  // Zeroed slots on memory the kernel may back with huge pages: a large table is read at random,
  // and with 4 KiB pages nearly every lookup would also miss the TLB.
  class SlotArray {
   public:
    SlotArray() = default;
    explicit SlotArray(size_t n) : n_(n) {
      const size_t bytes = n * sizeof(Slot), huge = size_t(2) << 20;
      if (bytes >= huge) {
        p_ = static_cast<Slot*>(std::aligned_alloc(huge, (bytes + huge - 1) / huge * huge));
#ifdef MADV_HUGEPAGE
        if (p_) madvise(p_, bytes, MADV_HUGEPAGE);
#endif
      } else {
        p_ = static_cast<Slot*>(std::malloc(bytes));
      }
      if (!p_) throw std::bad_alloc();
      std::memset(static_cast<void*>(p_), 0, bytes);  // gen 0: empty
    }
    ~SlotArray() { std::free(p_); }
    SlotArray(const SlotArray&) = delete;
    SlotArray& operator=(const SlotArray&) = delete;
    void swap(SlotArray& o) { std::swap(p_, o.p_); std::swap(n_, o.n_); }
    size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    Slot& operator[](size_t i) { return p_[i]; }
    const Slot& operator[](size_t i) const { return p_[i]; }
    const Slot* begin() const { return p_; }
    const Slot* end() const { return p_ + n_; }
    void zero() { if (n_) std::memset(static_cast<void*>(p_), 0, n_ * sizeof(Slot)); }
   private:
    Slot* p_ = nullptr;
    size_t n_ = 0;
  };
  SlotArray slots_;
  size_t mask_ = 0, size_ = 0;
  uint32_t gen_ = 1;
};

// A document's shingles, keyed, with their cache slots prefetched.
struct Prepared {
  int64_t index = -1;
  std::vector<ShingleCache::Key> keys;
  std::vector<const char*> where;
};

// A thread's buffers, reused from document to document. Documents go through a two-stage
// pipeline: the next one is split and its cache slots prefetched before the current one is
// looked up, so the cache misses of one overlap the work on the other.
struct MinhashWork {
  ShingleCache cache;
  Prepared cur, next;
  std::vector<uint64_t> hv;    // the current document's inputs, in shingle order
  std::vector<uint32_t> todo;  // positions of shingles new to the cache

  void prepare(std::string_view text, int64_t index, int k, Prepared& d) const {
    d.index = index;
    d.keys.clear();
    d.where.clear();
    for_each_shingle(text.data(), text.size(), k, [&](const char* p, size_t l) {
      d.keys.push_back(ShingleCache::key(p, l));
      d.where.push_back(p);
      cache.prefetch(d.keys.back());
    });
  }

  // hv = the inputs of document d's shingles.
  void inputs(const Prepared& d, int scheme) {
    const size_t n = d.keys.size();
    cache.reserve(n);
    hv.resize(n);
    todo.clear();
    for (size_t s = 0; s < n; ++s) {
      bool fresh;
      const size_t slot = cache.find_or_add(d.keys[s], d.where[s], &fresh);
      if (fresh) todo.push_back(uint32_t(s));
      hv[s] = slot;  // a slot until the inputs of new shingles are filled in below
    }
    size_t t = 0;
    for (; t + 4 <= todo.size(); t += 4) {  // four new shingles at a time share the SHA unit
      const uint8_t* b[4];
      int64_t l[4];
      for (int q = 0; q < 4; ++q) {
        b[q] = reinterpret_cast<const uint8_t*>(d.where[todo[t + q]]);
        l[q] = d.keys[todo[t + q]].len;
      }
      uint32_t h[4][5];
      sha1_cpu_x4(b, l, h);
      for (int q = 0; q < 4; ++q) cache.value(hv[todo[t + q]]) = minhash_input_from_digest(h[q], scheme);
    }
    for (; t < todo.size(); ++t) {
      uint32_t h[5];
      sha1_cpu(reinterpret_cast<const uint8_t*>(d.where[todo[t]]), d.keys[todo[t]].len, h);
      cache.value(hv[todo[t]]) = minhash_input_from_digest(h, scheme);
    }
    for (uint64_t& v : hv) v = cache.value(v);
  }
};

template <class T>
void minhash_rows(const Strs& texts, int k, const T* a, const T* b, int P, int scheme, int threads, T* out) {
  const int64_t n = int64_t(texts.size());
  parallel_for_items<MinhashWork>(n, threads, [&](MinhashWork& w, int64_t i) {
    if (w.next.index == i) std::swap(w.cur, w.next);  // this thread prepared it with the one before
    else w.prepare(texts[i], i, k, w.cur);
    if (i + 1 < n) w.prepare(texts[i + 1], i + 1, k, w.next);  // wasted when another thread takes i + 1
    if (i + 2 < n) __builtin_prefetch(texts[i + 2].data());      // Python's strings lie far apart
    w.inputs(w.cur, scheme);
    T* sig = out + i * P;
    std::fill(sig, sig + P, T(minhash_empty_value(scheme)));
    fold(w.hv.data(), int64_t(w.hv.size()), a, b, P, sig, scheme);
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
