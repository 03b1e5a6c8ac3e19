// The few Unicode facts the tokenizers need, matching CPython's str methods exactly.
#pragma once
#include <cstddef>
#include <cstdint>

namespace impdist::text {

// Decodes the code point starting at s[i] (UTF-8 from CPython, possibly with surrogates encoded
// by "surrogatepass"); returns its byte length (1 for a stray byte, which is taken as is).
inline int utf8_decode(const unsigned char* s, size_t n, size_t i, uint32_t* cp) {
  const unsigned char c = s[i];
  if (c < 0x80) { *cp = c; return 1; }
  int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (len == 1 || i + len > n) { *cp = c; return 1; }
  uint32_t v = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
  for (int k = 1; k < len; ++k) v = (v << 6) | (s[i + k] & 0x3F);
  *cp = v;
  return len;
}

// str.isspace() (also what str.split() and str.rstrip() split and strip on).
inline bool py_isspace(uint32_t cp) {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Length in bytes of the whitespace code point at s[i], or 0 if s[i] starts none.
inline int space_len_at(const unsigned char* s, size_t n, size_t i) {
  const unsigned char c = s[i];
  if (c < 0x80) return ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) ? 1 : 0;
  if (c != 0xC2 && c != 0xE1 && c != 0xE2 && c != 0xE3) return 0;  // lead bytes of all others
  uint32_t cp;
  const int len = utf8_decode(s, n, i, &cp);
  return py_isspace(cp) ? len : 0;
}

// Offset of the first byte of u[0..8) outside 0x21..0x7F (a byte that may start a space), or 8.
// Eight bytes at a time, without a branch per byte: a word is mostly printable ASCII.
inline size_t first_special_byte(const unsigned char* u) {
  uint64_t x;
  __builtin_memcpy(&x, u, 8);
  const uint64_t high = 0x8080808080808080ull;
  // Bytes >= 0x80, and bytes < 0x21 (exact up to the first of them, which is all we use).
  const uint64_t special = (x & high) | ((x - 0x2121212121212121ull) & ~x & high);
  if (!special) return 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return size_t(__builtin_clzll(special)) >> 3;
#else
  return size_t(__builtin_ctzll(special)) >> 3;
#endif
}

// Calls f(begin, length) for each token of str.split() (no arguments) over s[0..n).
template <class F>
inline void split_whitespace(const char* s, size_t n, F&& f) {
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  size_t i = 0;
  while (i < n) {
    int sp;
    while (i < n && (sp = space_len_at(u, n, i)) > 0) i += sp;
    if (i >= n) break;
    const size_t start = i;
    while (i < n) {
      if (i + 8 <= n) {
        const size_t k = first_special_byte(u + i);
        i += k;
        if (k == 8) continue;
      }
      const unsigned char c = u[i];
      if (c > 0x20 && c < 0x80) { ++i; continue; }  // printable ASCII: never a space
      if (space_len_at(u, n, i)) break;
      ++i;
    }
    f(s + start, i - start);
  }
}

// Length of s without trailing whitespace (str.rstrip()), scanning back from the end.
inline size_t rstrip_len(const char* s, size_t n) {
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  size_t end = n;
  while (end > 0) {
    const unsigned char c = u[end - 1];
    if (c < 0x80) {
      if (!space_len_at(u, end, end - 1)) break;
      --end;
      continue;
    }
    size_t start = end - 1;  // a non-ASCII code point ends the text: is it whitespace?
    while (start > 0 && (u[start] & 0xC0) == 0x80 && end - start < 4) --start;
    uint32_t cp;
    if (utf8_decode(u, end, start, &cp) != int(end - start) || !py_isspace(cp)) break;
    end = start;
  }
  return end;
}

}  // namespace impdist::text
