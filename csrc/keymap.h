// uint64 key -> dense uint32 id, open addressing: exact n-gram interning on the CPU, where
// an n-gram's key is (id of its (n-1)-gram prefix << 32 | id of its last token).
#pragma once
#include <cstdint>
#include <vector>

#include "impdist/ngram_match.h"  // kNoId, ngram_slot

namespace impdist {

class KeyMap {
 public:
  explicit KeyMap(size_t expected = 16) { clear(expected); }
  void clear(size_t expected) {
    size_t cap = 16;
    while (3 * cap < 4 * expected) cap <<= 1;
    keys_.assign(cap, kEmpty);
    vals_.resize(cap);
    mask_ = cap - 1;
    size_ = 0;
  }
  uint32_t size() const { return size_; }
  static uint64_t key(uint32_t prefix, uint32_t last) { return (uint64_t(prefix) << 32) | last; }

  uint32_t intern(uint64_t key) {
    if (4 * (size_t(size_) + 1) > 3 * keys_.size()) grow();  // load factor <= 3/4
    size_t k = slot(key);
    while (keys_[k] != kEmpty) {
      if (keys_[k] == key) return vals_[k];
      k = (k + 1) & mask_;
    }
    keys_[k] = key;
    vals_[k] = size_;
    return size_++;
  }
  uint32_t find(uint64_t key) const {
    size_t k = slot(key);
    while (keys_[k] != kEmpty) {
      if (keys_[k] == key) return vals_[k];
      k = (k + 1) & mask_;
    }
    return kNoId;
  }
  void prefetch(uint64_t key) const { __builtin_prefetch(&keys_[slot(key)]); }

 private:
  static constexpr uint64_t kEmpty = ~0ull;  // never a key: prefix ids stay below 2^32 - 1
  size_t slot(uint64_t key) const {
    return size_t((key * 0x9E3779B97F4A7C15ull) >> 32 ^ (key * 0x9E3779B97F4A7C15ull)) & mask_;
  }
  void grow() {
    std::vector<uint64_t> ok;
    std::vector<uint32_t> ov;
    ok.swap(keys_);
    ov.swap(vals_);
    keys_.assign(ok.size() * 2, kEmpty);
    vals_.resize(ok.size() * 2);
    mask_ = keys_.size() - 1;
    for (size_t i = 0; i < ok.size(); ++i) {
      if (ok[i] == kEmpty) continue;
      size_t k = slot(ok[i]);
      while (keys_[k] != kEmpty) k = (k + 1) & mask_;
      keys_[k] = ok[i];
      vals_[k] = ov[i];
    }
  }
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> vals_;
  size_t mask_ = 0;
  uint32_t size_ = 0;
};

}  // namespace impdist
