// Token strings -> dense ids, exact (hash, then byte comparison), for one pair or one corpus.
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "impdist/ngram_match.h"  // kNoId

namespace impdist::text {

inline uint64_t load_u32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t load_u64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
inline uint64_t mix64(uint64_t a, uint64_t b) {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// A fast 64-bit hash of a short byte string (tokens). Strings up to 16 bytes are read with a
// few overlapping loads that together cover every byte, never past the end.
inline uint64_t hash_bytes(const char* p, size_t n) {
  const uint64_t k0 = 0xA0761D6478BD642Full, k1 = 0xE7037ED1A0B428DBull, k2 = 0x8EBC6AF09C88C6E3ull;
  uint64_t a, b, seed = k2 ^ n;
  if (n <= 16) {
    if (n >= 4) {
      const size_t d = (n >> 3) << 2;
      a = (load_u32(p) << 32) | load_u32(p + d);
      b = (load_u32(p + n - 4) << 32) | load_u32(p + n - 4 - d);
    } else if (n > 0) {
      const auto* u = reinterpret_cast<const unsigned char*>(p);
      a = (uint64_t(u[0]) << 16) | (uint64_t(u[n >> 1]) << 8) | u[n - 1];
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    size_t i = 0;
    for (; i + 16 < n; i += 16) seed = mix64(load_u64(p + i) ^ k0, load_u64(p + i + 8) ^ seed);
    a = load_u64(p + n - 16);
    b = load_u64(p + n - 8);
  }
  return mix64(k1 ^ n, mix64(a ^ k0, b ^ seed));
}

// a[0..n) == b[0..n), inline for tokens up to 16 bytes (the same overlapping loads as
// hash_bytes), where a call to memcmp would cost more than the comparison.
inline bool same_bytes(const char* a, const char* b, size_t n) {
  if (n >= 8 && n <= 16) return load_u64(a) == load_u64(b) && load_u64(a + n - 8) == load_u64(b + n - 8);
  if (n >= 4 && n < 8) return load_u32(a) == load_u32(b) && load_u32(a + n - 4) == load_u32(b + n - 4);
  if (n < 4) {
    for (size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  return std::memcmp(a, b, n) == 0;
}

class Interner {
 public:
  // Forget all tokens; expect about `n` distinct ones. Slots of earlier generations count as
  // empty, so a reset costs nothing per slot (this runs once per pair).
  void reset(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    if (slots_.size() < cap || slots_.size() > 8 * cap || ++gen_ == 0) {
      slots_.assign(cap, Slot{});
      gen_ = 1;
    }
    mask_ = slots_.size() - 1;
    size_ = 0;
  }
  uint32_t size() const { return size_; }

  // The id of token s, adding it if new.
  uint32_t intern(std::string_view s) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    const uint64_t h = hash_bytes(s.data(), s.size());
    size_t k = h & mask_;
    while (slots_[k].gen == gen_) {
      if (slots_[k].hash == h && slots_[k].len == s.size() && same_bytes(slots_[k].p, s.data(), s.size()))
        return slots_[k].id;
      k = (k + 1) & mask_;
    }
    slots_[k] = Slot{h, s.data(), static_cast<uint32_t>(s.size()), size_, gen_};
    return size_++;
  }

  // The id of token s, or kNoId.
  uint32_t find(std::string_view s) const {
    const uint64_t h = hash_bytes(s.data(), s.size());
    size_t k = h & mask_;
    while (slots_[k].gen == gen_) {
      if (slots_[k].hash == h && slots_[k].len == s.size() && same_bytes(slots_[k].p, s.data(), s.size()))
        return slots_[k].id;
      k = (k + 1) & mask_;
    }
    return kNoId;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    const char* p = nullptr;
    uint32_t len = 0;
    uint32_t id = kNoId;
    uint32_t gen = 0;  // live when equal to the interner's generation
  };
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.gen != gen_) continue;
      size_t k = s.hash & mask_;
      while (slots_[k].gen == gen_) k = (k + 1) & mask_;
      slots_[k] = s;
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  uint32_t size_ = 0;
  uint32_t gen_ = 0;
};

}  // namespace impdist::text
