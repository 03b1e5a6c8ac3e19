// MinHash-LSH dedup in four steps, the first three spread over cores:
//   1. a 32-bit hash of every row and of each of its bands;
//   2. rows equal to an earlier row are set aside (always dropped: an identical row has the same
//      matches as its first copy, which is kept or dropped for a kept match), and each band's
//      rows are radix sorted by (band hash, index), so equal bands sit together in input order;
//   3. every pair in a run of equal band hashes is checked: the band truly equal and no earlier
//      band equal (so each pair is checked in one band only), Jaccard estimate >= threshold;
//   4. one pass in input order keeps a row unless a verified match of it was kept.
// Steps 1-3 find exactly the pairs datasketch's query would return and its caller would verify,
// so step 4 makes datasketch's decisions; hash collisions only cost a comparison.
#include "lsh.h"

#include <algorithm>
#include <vector>

#include "parallel.h"

namespace impdist {
namespace {

// A 32-bit hash of count values: the sum of value * odd 32-bit multiplier, one multiplier per
// column (independent 32 x 32 -> 64-bit products, so the loop vectorizes even on SSE2), mixed
// at the end. uint64 values are folded to 32 bits first; a collision only costs a comparison.
inline uint64_t fold32(uint32_t v) { return v; }
inline uint64_t fold32(uint64_t v) { return uint32_t(v ^ (v >> 32)); }

template <class T>
uint32_t hash_values(const T* v, const uint32_t* mult, int count) {
  uint64_t h = 0;
  for (int j = 0; j < count; ++j) h += fold32(v[j]) * mult[j];
  h ^= h >> 31;
  h *= 0x9E3779B97F4A7C15ull;
  return uint32_t(h >> 32);
}

template <class T>
bool same_values(const T* a, const T* b, int count) {
  bool same = true;
  for (int j = 0; j < count; ++j) same &= a[j] == b[j];
  return same;
}

template <class T>
int count_equal(const T* a, const T* b, int P) {
  int c = 0;
  for (int j = 0; j < P; ++j) c += a[j] == b[j];
  return c;
}

// Sorts v by its high 32 bits, stably (LSD radix, three passes of 11 bits): rows filled in
// index order come out grouped by hash, in index order within a group.
void sort_by_high32(std::vector<uint64_t>& v, std::vector<uint64_t>& tmp) {
  tmp.resize(v.size());
  for (int shift = 32; shift < 64; shift += 11) {
    size_t count[2049] = {0};
    for (uint64_t x : v) ++count[((x >> shift) & 2047) + 1];
    for (int d = 0; d < 2048; ++d) count[d + 1] += count[d];
    for (uint64_t x : v) tmp[count[(x >> shift) & 2047]++] = x;
    v.swap(tmp);
  }
}

struct Edge {
  uint32_t earlier, later;
};

template <class T>
void near_duplicates(const T* sig, int64_t n, int P, int bands, int rows, double threshold, int threads,
                     uint8_t* drop) {
  const int nt = resolve_threads(threads);
  // 1. Hashes: key[k * n + i] of band k of row i, key[bands * n + i] of the whole row.
  std::vector<uint32_t> key(size_t(bands + 1) * n);
  std::vector<uint32_t> mult(P);
  uint64_t x = 0x5EED;
  for (uint32_t& m : mult) {  // splitmix64: fixed odd multipliers
    x += 0x9E3779B97F4A7C15ull;
    uint64_t z = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    m = uint32_t(z ^ (z >> 31)) | 1;
  }
  parallel_chunks(n, nt, [&](int, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T* r = sig + i * P;
      for (int k = 0; k < bands; ++k) key[size_t(k) * n + i] = hash_values(r + k * rows, mult.data() + k * rows, rows);
      key[size_t(bands) * n + i] = hash_values(r, mult.data(), P);
    }
  });
  // 2. Task k < bands sorts band k; task `bands` sorts whole rows and marks exact copies.
  std::vector<std::vector<uint64_t>> sorted(bands + 1);
  std::fill(drop, drop + n, uint8_t(0));
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1 && n >= 1024)
  for (int k = 0; k <= bands; ++k) {
    auto& s = sorted[k];
    s.resize(n);
    const uint32_t* kk = key.data() + size_t(k) * n;
    for (int64_t i = 0; i < n; ++i) s[i] = uint64_t(kk[i]) << 32 | uint64_t(i);
    std::vector<uint64_t> tmp;
    sort_by_high32(s, tmp);
    if (k < bands) continue;
    for (int64_t a = 0; a < n;) {  // a run of equal row hashes: copies of its first row are dropped
      int64_t b = a + 1;
      while (b < n && s[b] >> 32 == s[a] >> 32) ++b;
      const T* first = sig + int64_t(uint32_t(s[a])) * P;
      for (int64_t c = a + 1; c < b; ++c)
        if (same_values(first, sig + int64_t(uint32_t(s[c])) * P, P)) drop[uint32_t(s[c])] = 1;
      a = b;
    }
  }
  // 3. Verified matches, from runs of equal band hashes; each band's runs are cut into pieces so
  //    that the threads share the work even when one band holds most of it.
  const int pieces = nt > 1 ? 4 * nt : 1;
  std::vector<std::vector<Edge>> found(size_t(bands) * pieces);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1 && n >= 1024)
  for (int task = 0; task < bands * pieces; ++task) {
    const int k = task / pieces, piece = task % pieces;
    const auto& s = sorted[k];
    int64_t a = n * piece / pieces;
    const int64_t end = n * (piece + 1) / pieces;
    while (a > 0 && a < n && s[a] >> 32 == s[a - 1] >> 32) ++a;  // a run belongs to the piece it starts in
    auto& out = found[task];
    std::vector<uint32_t> run;
    while (a < end) {
      int64_t b = a + 1;
      while (b < n && s[b] >> 32 == s[a] >> 32) ++b;
      run.clear();
      for (int64_t c = a; c < b; ++c)
        if (!drop[uint32_t(s[c])]) run.push_back(uint32_t(s[c]));
      for (size_t x = 0; x + 1 < run.size(); ++x) {
        const T* re = sig + int64_t(run[x]) * P;
        for (size_t y = x + 1; y < run.size(); ++y) {
          const T* rl = sig + int64_t(run[y]) * P;
          if (!same_values(re + k * rows, rl + k * rows, rows)) continue;  // hash collision
          bool earlier_band = false;
          for (int q = 0; q < k && !earlier_band; ++q) earlier_band = same_values(re + q * rows, rl + q * rows, rows);
          if (earlier_band) continue;  // that band checks this pair
          if (double(count_equal(re, rl, P)) / double(P) >= threshold) out.push_back(Edge{run[x], run[y]});
        }
      }
      a = b;
    }
  }
  // 4. Matches grouped by their later row, then first wins in input order.
  std::vector<int64_t> start(n + 1, 0);
  for (const auto& f : found)
    for (const Edge& e : f) ++start[e.later + 1];
  for (int64_t i = 0; i < n; ++i) start[i + 1] += start[i];
  std::vector<uint32_t> earlier(start[n]);
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (const auto& f : found)
    for (const Edge& e : f) earlier[fill[e.later]++] = e.earlier;
  for (int64_t i = 0; i < n; ++i) {
    if (drop[i]) continue;
    for (int64_t e = start[i]; e < start[i + 1]; ++e)
      if (!drop[earlier[e]]) {
        drop[i] = 1;
        break;
      }
  }
}

}  // namespace

void lsh_near_duplicates(const void* sig, int width, int64_t n, int num_perm, int bands, int rows,
                         double threshold, int threads, uint8_t* drop) {
  if (width == 4)
    near_duplicates(static_cast<const uint32_t*>(sig), n, num_perm, bands, rows, threshold, threads, drop);
  else
    near_duplicates(static_cast<const uint64_t*>(sig), n, num_perm, bands, rows, threshold, threads, drop);
}

}  // namespace impdist
