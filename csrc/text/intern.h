// Token strings -> dense ids, exact (hash, then byte comparison), for one pair or one corpus.
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "impdist/ngram_match.h"  // kNoId

namespace impdist::text {

inline uint64_t hash_bytes(const char* p, size_t n) {
  // wyhash-style mixing of 8-byte words; tokens are short, so this stays cheap.
  const uint64_t m = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x2545F4914F6CDD1Dull ^ (n * m);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * m;
    h ^= h >> 29;
  }
  uint64_t w = 0;
  for (size_t k = 0; i + k < n; ++k) w |= uint64_t(static_cast<unsigned char>(p[i + k])) << (8 * k);
  h = (h ^ w) * m;
  h ^= h >> 32;
  return h * 0xD6E8FEB86659FD93ull ^ (h >> 28);
}

class Interner {
 public:
  // Forget all tokens; expect about `n` distinct ones.
  void reset(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    if (slots_.size() < cap || slots_.size() > 4 * cap) slots_.assign(cap, Slot{});
    else std::fill(slots_.begin(), slots_.end(), Slot{});
    mask_ = slots_.size() - 1;
    size_ = 0;
  }
  uint32_t size() const { return size_; }

  // The id of token s, adding it if new.
  uint32_t intern(std::string_view s) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    const uint64_t h = hash_bytes(s.data(), s.size());
    size_t k = h & mask_;
    while (slots_[k].id != kNoId) {
      if (slots_[k].hash == h && view(slots_[k]) == s) return slots_[k].id;
      k = (k + 1) & mask_;
    }
    slots_[k] = Slot{h, s.data(), static_cast<uint32_t>(s.size()), size_};
    return size_++;
  }

  // The id of token s, or kNoId.
  uint32_t find(std::string_view s) const {
    const uint64_t h = hash_bytes(s.data(), s.size());
    size_t k = h & mask_;
    while (slots_[k].id != kNoId) {
      if (slots_[k].hash == h && view(slots_[k]) == s) return slots_[k].id;
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
  };
  static std::string_view view(const Slot& s) { return {s.p, s.len}; }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.id == kNoId) continue;
      size_t k = s.hash & mask_;
      while (slots_[k].id != kNoId) k = (k + 1) & mask_;
      slots_[k] = s;
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  uint32_t size_ = 0;
};

}  // namespace impdist::text
