// SHA-1 with the x86 SHA extensions: the same digest as impdist/sha1.h, several times faster.
// Compiled with target attributes and chosen at run time, so the build needs no -m flags.
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#include <immintrin.h>
#define IMPDIST_HAVE_SHA_NI 1
#endif

#include "impdist/sha1.h"
#include "minhash.h"

namespace impdist {

#ifdef IMPDIST_HAVE_SHA_NI
bool cpu_has_sha_ni() {
  static const bool has = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const bool sha = (b >> 29) & 1;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
    return sha && ssse3 && sse41;
  }();
  return has;
}

// Group g runs rounds 4g..4g+3 on m = W[4g..4g+3] and advances the message schedule:
// msg1 starts group g+3 (W[t-16] ^ W[t-14]), xor adds W[t-8] to group g+2, msg2 finishes g+1.
// One block of each of S independent messages: their dependency chains interleave, which
// hides the latency of the SHA instructions (one stream alone leaves the unit mostly idle).
template <int S>
__attribute__((target("sha,ssse3,sse4.1"), always_inline)) inline void sha1_block_streams(
    uint32_t* const state[S], const uint8_t* const block[S]) {
  const __m128i kShuffle = _mm_set_epi64x(0x0001020304050607ll, 0x08090a0b0c0d0e0fll);
  __m128i abcd[S], abcd_save[S], e_save[S], msg[S][4], e[S][2];
  for (int k = 0; k < S; ++k) {
    abcd[k] = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state[k])), 0x1B);
    e_save[k] = e[k][0] = e[k][1] = _mm_set_epi32(int(state[k][4]), 0, 0, 0);
    abcd_save[k] = abcd[k];
    for (int i = 0; i < 4; ++i)
      msg[k][i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block[k] + 16 * i)), kShuffle);
  }
  for (int g = 0; g < 20; ++g) {
    for (int k = 0; k < S; ++k) {
      __m128i& ex = e[k][g & 1];
      __m128i& ey = e[k][(g + 1) & 1];
      const __m128i m = msg[k][g & 3];
      ex = g == 0 ? _mm_add_epi32(ex, m) : _mm_sha1nexte_epu32(ex, m);
      ey = abcd[k];
      if (g >= 3 && g <= 18) msg[k][(g + 1) & 3] = _mm_sha1msg2_epu32(msg[k][(g + 1) & 3], m);
      switch (g / 5) {  // the round function is an immediate
        case 0: abcd[k] = _mm_sha1rnds4_epu32(abcd[k], ex, 0); break;
        case 1: abcd[k] = _mm_sha1rnds4_epu32(abcd[k], ex, 1); break;
        case 2: abcd[k] = _mm_sha1rnds4_epu32(abcd[k], ex, 2); break;
        default: abcd[k] = _mm_sha1rnds4_epu32(abcd[k], ex, 3); break;
      }
      if (g >= 1 && g <= 16) msg[k][(g + 3) & 3] = _mm_sha1msg1_epu32(msg[k][(g + 3) & 3], m);
      if (g >= 2 && g <= 17) msg[k][(g + 2) & 3] = _mm_xor_si128(msg[k][(g + 2) & 3], m);
    }
  }
  for (int k = 0; k < S; ++k) {
    const __m128i e_out = _mm_sha1nexte_epu32(e[k][0], e_save[k]);  // e[0]: abcd before group 19
    const __m128i out = _mm_shuffle_epi32(_mm_add_epi32(abcd[k], abcd_save[k]), 0x1B);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state[k]), out);
    state[k][4] = uint32_t(_mm_extract_epi32(e_out, 3));
  }
}

__attribute__((target("sha,ssse3,sse4.1"))) static void sha1_blocks_ni(uint32_t state[5], const uint8_t* p,
                                                                       int64_t nblocks) {
  for (; nblocks > 0; --nblocks, p += 64) {
    uint32_t* const st[1] = {state};
    const uint8_t* const bl[1] = {p};
    sha1_block_streams<1>(st, bl);
  }
}

__attribute__((target("sha,ssse3,sse4.1"))) static void sha1_four_blocks_ni(uint32_t* const state[4],
                                                                            const uint8_t* const block[4]) {
  sha1_block_streams<4>(state, block);
}
#else
bool cpu_has_sha_ni() { return false; }
#endif

// Pads a message of at most 55 bytes into one SHA-1 block.
static void pad_short(const uint8_t* data, int64_t len, uint8_t block[64]) {
  std::memset(block, 0, 64);
  std::memcpy(block, data, size_t(len));
  block[len] = 0x80;
  const uint64_t bits = uint64_t(len) * 8;
  for (int j = 0; j < 8; ++j) block[63 - j] = uint8_t(bits >> (8 * j));
}

void sha1_cpu_x4(const uint8_t* const data[4], const int64_t len[4], uint32_t h[4][5]) {
#ifdef IMPDIST_HAVE_SHA_NI
  bool short4 = cpu_has_sha_ni();
  for (int k = 0; k < 4; ++k) short4 &= len[k] <= 55;
  if (short4) {
    alignas(16) uint8_t blocks[4][64];
    uint32_t* st[4];
    const uint8_t* bl[4];
    for (int k = 0; k < 4; ++k) {
      pad_short(data[k], len[k], blocks[k]);
      h[k][0] = 0x67452301u; h[k][1] = 0xEFCDAB89u; h[k][2] = 0x98BADCFEu; h[k][3] = 0x10325476u;
      h[k][4] = 0xC3D2E1F0u;
      st[k] = h[k];
      bl[k] = blocks[k];
    }
    sha1_four_blocks_ni(st, bl);
    return;
  }
#endif
  for (int k = 0; k < 4; ++k) sha1_cpu(data[k], len[k], h[k]);
}

void sha1_cpu(const uint8_t* data, int64_t len, uint32_t h[5], bool allow_sha_ni) {
#ifdef IMPDIST_HAVE_SHA_NI
  if (allow_sha_ni && cpu_has_sha_ni()) {
    h[0] = 0x67452301u; h[1] = 0xEFCDAB89u; h[2] = 0x98BADCFEu; h[3] = 0x10325476u; h[4] = 0xC3D2E1F0u;
    const int64_t full = len / 64;
    sha1_blocks_ni(h, data, full);
    uint8_t tail[128] = {0};
    const int64_t rest = len - full * 64;
    std::memcpy(tail, data + full * 64, size_t(rest));
    tail[rest] = 0x80;
    const int64_t padded = rest + 9 <= 64 ? 64 : 128;
    const uint64_t bits = uint64_t(len) * 8;
    for (int j = 0; j < 8; ++j) tail[padded - 1 - j] = uint8_t(bits >> (8 * j));
    sha1_blocks_ni(h, tail, padded / 64);
    return;
  }
#endif
  (void)allow_sha_ni;
  sha1_digest(data, len, h);
}

}  // namespace impdist
