// SHA-1 of a short byte string, reduced to the leading 4 or 8 digest bytes read little-endian:
// datasketch's sha1_hash32 / sha1_hash64. Portable code both builds compile; the CPU build may
// swap in a SHA-NI version for the same result (see minhash.cpp).
#pragma once
#include "hd.h"

namespace impdist {

IMPDIST_HD uint32_t sha1_rotl(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

IMPDIST_HD void sha1_block(uint32_t h[5], const uint8_t* p) {
  uint32_t w[80];
  for (int i = 0; i < 16; ++i)
    w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) |
           (uint32_t(p[4 * i + 2]) << 8) | uint32_t(p[4 * i + 3]);
  for (int i = 16; i < 80; ++i) w[i] = sha1_rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int i = 0; i < 80; ++i) {
    uint32_t f, k;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999u;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1u;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDCu;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6u;
    }
    const uint32_t t = sha1_rotl(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = sha1_rotl(b, 30);
    b = a;
    a = t;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

// Full SHA-1; writes the five state words (big-endian digest words).
IMPDIST_HD void sha1_digest(const uint8_t* data, int64_t len, uint32_t h[5]) {
  h[0] = 0x67452301u; h[1] = 0xEFCDAB89u; h[2] = 0x98BADCFEu; h[3] = 0x10325476u; h[4] = 0xC3D2E1F0u;
  int64_t i = 0;
  for (; i + 64 <= len; i += 64) sha1_block(h, data + i);
  uint8_t tail[128];
  const int64_t rest = len - i;
  for (int64_t j = 0; j < rest; ++j) tail[j] = data[i + j];
  tail[rest] = 0x80;
  const int64_t padded = rest + 1 + 8 <= 64 ? 64 : 128;
  for (int64_t j = rest + 1; j < padded - 8; ++j) tail[j] = 0;
  const uint64_t bits = static_cast<uint64_t>(len) * 8;
  for (int j = 0; j < 8; ++j) tail[padded - 1 - j] = static_cast<uint8_t>(bits >> (8 * j));
  sha1_block(h, tail);
  if (padded == 128) sha1_block(h, tail + 64);
}

IMPDIST_HD uint32_t bswap32_hd(uint32_t x) {
  return (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24);
}

// Digest bytes 0..3 as a little-endian uint32 (datasketch.hashfunc.sha1_hash32).
IMPDIST_HD uint32_t sha1_hash32_of(const uint32_t h[5]) { return bswap32_hd(h[0]); }

// Digest bytes 0..7 as a little-endian uint64 (datasketch.hashfunc.sha1_hash64).
IMPDIST_HD uint64_t sha1_hash64_of(const uint32_t h[5]) {
  return uint64_t(bswap32_hd(h[0])) | (uint64_t(bswap32_hd(h[1])) << 32);
}

}  // namespace impdist
