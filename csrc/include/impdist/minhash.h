// datasketch MinHash permutations, one shingle hash at a time (schemes of datasketch >= 2.0).
//
//   legacy:   phv = ((a * hv + b) mod 2^64) mod (2^61 - 1), truncated to 32 bits, hv = sha1_hash32
//   affine32: phv = a * fmix32(hv) + b mod 2^32,                          hv = sha1_hash32
//   affine64: phv = a * fmix64(hv) + b mod 2^64,                          hv = sha1_hash64
// A signature is the element-wise minimum of phv over a document's shingles, starting from the
// scheme's maximum (datasketch's empty MinHash).
#pragma once
#include "hd.h"
#include "sha1.h"

namespace impdist {

enum MinhashScheme : int32_t { kLegacy = 0, kAffine32 = 1, kAffine64 = 2 };

IMPDIST_HD uint32_t fmix32(uint32_t h) {
  h ^= h >> 16; h *= 0x85EBCA6Bu; h ^= h >> 13; h *= 0xC2B2AE35u; return h ^ (h >> 16);
}
IMPDIST_HD uint64_t fmix64(uint64_t h) {
  h ^= h >> 33; h *= 0xFF51AFD7ED558CCDull; h ^= h >> 33; h *= 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 33);
}

// x mod (2^61 - 1) for any 64-bit x, without a division.
IMPDIST_HD uint64_t mod_mersenne61(uint64_t x) {
  const uint64_t p = (1ull << 61) - 1;
  uint64_t r = (x & p) + (x >> 61);
  return r >= p ? r - p : r;
}

// The value the permutations see for a shingle with SHA-1 state h: what datasketch feeds
// into a * h + b.
IMPDIST_HD uint64_t minhash_input_from_digest(const uint32_t h[5], int32_t scheme) {
  if (scheme == kAffine64) return fmix64(sha1_hash64_of(h));
  if (scheme == kAffine32) return fmix32(sha1_hash32_of(h));
  return sha1_hash32_of(h);
}

IMPDIST_HD uint64_t minhash_input(const uint8_t* bytes, int64_t len, int32_t scheme) {
  uint32_t h[5];
  sha1_digest(bytes, len, h);
  return minhash_input_from_digest(h, scheme);
}

// Permuted hash of input `hv` under permutation (a, b).
IMPDIST_HD uint64_t minhash_permute(uint64_t hv, uint64_t a, uint64_t b, int32_t scheme) {
  if (scheme == kAffine32)
    return static_cast<uint32_t>(static_cast<uint32_t>(a) * static_cast<uint32_t>(hv) +
                                 static_cast<uint32_t>(b));
  if (scheme == kAffine64) return a * hv + b;
  return mod_mersenne61(a * hv + b) & 0xffffffffull;
}

IMPDIST_HD uint64_t minhash_empty_value(int32_t scheme) {
  return scheme == kAffine64 ? ~0ull : 0xffffffffull;
}

}  // namespace impdist
