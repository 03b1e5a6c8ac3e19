#include "tokenize.h"

#include <array>
#include <cstring>

#include "porter.h"
#include "unicode.h"

namespace impdist::text {

namespace {

// ---------------------------------------------------------------- byte classes
enum : uint8_t {
  kAlnum = 1,     // [A-Za-z0-9]
  kC1 = 2,        // 13a's first class: ASCII punctuation except ' , - . (and the space)
  kDigit = 4,
  kDotComma = 8,
  kSpace = 16,    // ASCII bytes str.isspace() accepts
  kWsLead = 32,   // lead bytes of the non-ASCII whitespace code points (0xC2, 0xE1, 0xE2, 0xE3)
  kRepl = 64,     // bytes Tokenizer13a's replacements start with: '<' '&' '\n'
  kSplit = 128,   // '.', ',', '-': the bytes the last three 13a substitutions act on
};

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t v = 0;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) v |= kAlnum;
    if ((c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
        (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F)
      v |= kC1;  // [\{-\~\[-\` -\&\(-\+\:-\@\/]
    if (c >= '0' && c <= '9') v |= kDigit;
    if (c == '.' || c == ',') v |= kDotComma;
    if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) v |= kSpace;
    if (c == 0xC2 || c == 0xE1 || c == 0xE2 || c == 0xE3) v |= kWsLead;
    if (c == '<' || c == '&' || c == '\n') v |= kRepl;
    if (c == '.' || c == ',' || c == '-') v |= kSplit;
    t[c] = v;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kClass = make_classes();

inline uint8_t cls(unsigned char c) { return kClass[c]; }
inline char ascii_lower(unsigned char c) { return char(c >= 'A' && c <= 'Z' ? c + 32 : c); }

// Non-ASCII code points rouge-score drops that are probably letters, not punctuation/symbols.
inline bool looks_like_letter(uint32_t cp) {
  if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7) return false;
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;    // punctuation, symbols, arrows, shapes
  if (cp >= 0x3000 && cp <= 0x303F) return false;    // CJK punctuation
  if (cp >= 0xFE00 && cp <= 0xFE6F) return false;    // variation selectors, small forms
  if (cp >= 0xFF00 && cp <= 0xFF0F) return false;    // fullwidth punctuation
  if (cp >= 0x1F000 && cp <= 0x1FAFF) return false;  // emoji and pictographs
  return true;
}

// One literal left-to-right pass of str.replace(pat, rep) from `in` into `out`.
void replace_all(const std::string& in, std::string_view pat, std::string_view rep, std::string& out) {
  out.clear();
  size_t i = 0;
  while (true) {
    const size_t j = in.find(pat.data(), i, pat.size());
    if (j == std::string::npos) break;
    out.append(in, i, j - i);
    out.append(rep);
    i = j + pat.size();
  }
  out.append(in, i, std::string::npos);
}

// ------------------------------------------------------ 13a as a stream of stages
// TokenizerRegexp applies four re.sub passes in turn. Each pass below is the same substitution
// as a stream with one byte of lookahead: re.sub scans left to right and a match consumes both
// characters, which is exactly "hold one pending byte; on the next, either emit the rewritten
// pair or emit the pending byte and hold the new one". Working on bytes is exact because every
// pattern character is ASCII and UTF-8 continuation bytes never equal one.

// Collects tokens split on ASCII whitespace (the caller guarantees no other whitespace).
struct TokenSink {
  char* out;
  char* tok_start = nullptr;
  std::vector<std::string_view>* tok;
  void put(unsigned char c) {
    if (cls(c) & kSpace) {
      if (tok_start) { tok->emplace_back(tok_start, size_t(out - tok_start)); tok_start = nullptr; }
    } else {
      if (!tok_start) tok_start = out;
      *out++ = char(c);
    }
  }
  void flush() {
    if (tok_start) tok->emplace_back(tok_start, size_t(out - tok_start));
    tok_start = nullptr;
  }
};

// One re.sub over a stream of bytes: holds the previous byte; when (previous, current) matches
// Rule, Rule::emit writes the replacement of both, else the previous byte passes unchanged.
template <class Rule, class Next>
struct PairStage {
  Next next;
  int pend = -1;
  void put(unsigned char c) {
    if (pend >= 0) {
      if (Rule::match(uint8_t(pend), c)) {
        Rule::emit(next, uint8_t(pend), c);
        pend = -1;
        return;
      }
      next.put(uint8_t(pend));
    }
    pend = c;
  }
  void flush() {
    if (pend >= 0) next.put(uint8_t(pend));
    pend = -1;
    next.flush();
  }
};

struct DotCommaAfter {  // ([^0-9])([\.,]) -> \1 \2
  static bool match(uint8_t p, uint8_t c) { return !(cls(p) & kDigit) && (cls(c) & kDotComma); }
  template <class N> static void emit(N& n, uint8_t p, uint8_t c) { n.put(p); n.put(' '); n.put(c); n.put(' '); }
};
struct DotCommaBefore {  // ([\.,])([^0-9]) -> ' \1 \2'
  static bool match(uint8_t p, uint8_t c) { return (cls(p) & kDotComma) && !(cls(c) & kDigit); }
  template <class N> static void emit(N& n, uint8_t p, uint8_t c) { n.put(' '); n.put(p); n.put(' '); n.put(c); }
};
struct DigitDash {  // ([0-9])(-) -> \1 \2
  static bool match(uint8_t p, uint8_t c) { return (cls(p) & kDigit) && c == '-'; }
  template <class N> static void emit(N& n, uint8_t p, uint8_t) { n.put(p); n.put(' '); n.put('-'); n.put(' '); }
};

// Tokens of one whitespace-delimited chunk that holds '.', ',' or '-' (and no C1 byte): the
// last three substitutions run on ' ' + chunk + ' ', which is exact because whitespace is
// neither a digit nor '.', ',' or '-', so no match ever spans two chunks.
void special_chunk(const char* s, size_t n, TokenSink& sink) {
  PairStage<DotCommaAfter, PairStage<DotCommaBefore, PairStage<DigitDash, TokenSink>>> chain{{{sink}}};
  chain.put(' ');
  for (size_t i = 0; i < n; ++i) chain.put(static_cast<unsigned char>(s[i]));
  chain.put(' ');
  chain.flush();
  sink = chain.next.next.next;
}

}  // namespace

bool tokenize_rouge(const char* s, size_t n, bool stem, Tokens& out) {
  out.clear();
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  bool dropped_letters = false;
  // Lowercasing never lengthens: ASCII maps 1:1 and the two special code points shrink.
  std::string& raw = stem ? out.tmp : out.buf;
  if (raw.size() < n + 1) raw.resize(n + 1);
  char* const base = &raw[0];
  char* o = base;
  char* start = nullptr;
  auto end_tok = [&] {
    if (start) out.tok.emplace_back(start, size_t(o - start));
    start = nullptr;
  };
  for (size_t i = 0; i < n;) {
    const unsigned char c = u[i];
    if (cls(c) & kAlnum) {
      if (!start) start = o;
      do *o++ = ascii_lower(u[i++]);
      while (i < n && (cls(u[i]) & kAlnum));
    } else if (c < 0x80) {
      end_tok();
      ++i;
    } else {
      uint32_t cp;
      i += utf8_decode(u, n, i, &cp);
      // str.lower() maps exactly two non-ASCII code points to ASCII letters.
      if (cp == 0x212A) {          // KELVIN SIGN -> 'k'
        if (!start) start = o;
        *o++ = 'k';
      } else if (cp == 0x130) {    // LATIN CAPITAL I WITH DOT -> 'i' + COMBINING DOT (a separator)
        if (!start) start = o;
        *o++ = 'i';
        end_tok();
      } else {
        dropped_letters |= looks_like_letter(cp);
        end_tok();
      }
    }
  }
  end_tok();
  if (stem) {  // Porter stems for tokens longer than 3; a stem is never longer than its word
    if (out.buf.size() < size_t(o - base) + 8) out.buf.resize(size_t(o - base) + 8);
    char* so = &out.buf[0];
    for (auto& t : out.tok) {
      char* at = so;
      if (t.size() > 3) {
        so += porter_stem(t.data(), t.size(), so);
      } else {
        std::memcpy(so, t.data(), t.size());
        so += t.size();
      }
      t = std::string_view(at, size_t(so - at));
    }
  }
  return dropped_letters;
}

namespace {

// Tokenizer13a's language-independent part: BLEU's rstrip, then literal str.replace passes.
void replace_13a(const char* s, size_t n, std::string& out) {
    std::string a(s, rstrip_len(s, n)), b;
    if (a.find('<') != std::string::npos) { replace_all(a, "<skipped>", "", b); a.swap(b); }
    if (a.find('\n') != std::string::npos) {
      replace_all(a, "-\n", "", b); a.swap(b);
      replace_all(a, "\n", " ", b); a.swap(b);
    }
    if (a.find('&') != std::string::npos) {
      replace_all(a, "&quot;", "\"", b); a.swap(b);
      replace_all(a, "&amp;", "&", b); a.swap(b);
      replace_all(a, "&lt;", "<", b); a.swap(b);
      replace_all(a, "&gt;", ">", b); a.swap(b);
    }
    out.swap(a);
}

// Chunks and tokens of a line the replacements leave alone; false (and nothing done) when the
// line holds a character a replacement pattern starts with ('<', '&', '\n'). Without those,
// rstrip cannot change the tokens either: trailing whitespace only ends the last chunk.
bool chunk_13a(const char* s, size_t n, Tokens& out, bool replaced) {
  // The first substitution isolates every C1 byte and whitespace separates the rest into
  // chunks. A chunk without '.', ',' or '-' is left whole by the other three substitutions, so
  // it is a token as it stands (a view into s); only the others run through the stages.
  if (out.buf.size() < n + 16) out.buf.resize(n + 16);  // stage output never exceeds the input
  TokenSink sink{&out.buf[0], nullptr, &out.tok};
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  size_t start = 0;
  bool special = false;
  auto end_chunk = [&](size_t end) {
    if (end > start) {
      if (special) special_chunk(s + start, end - start, sink);
      else out.tok.emplace_back(s + start, end - start);
    }
    special = false;
  };
  const uint8_t stop = kSpace | kC1 | kWsLead | kSplit | (replaced ? 0 : kRepl);
  for (size_t i = 0; i < n;) {
    while (i < n && !(cls(u[i]) & stop)) ++i;  // plain bytes: letters, digits, most non-ASCII
    if (i == n) break;
    const uint8_t k = cls(u[i]);
    if (k & stop & kRepl) return false;
    if (k & kSpace) {
      end_chunk(i);
      start = ++i;
    } else if (k & kC1) {
      end_chunk(i);
      out.tok.emplace_back(s + i, 1);
      start = ++i;
    } else if (k & kWsLead) {
      const int sp = space_len_at(u, n, i);
      if (sp) {
        end_chunk(i);
        start = i += size_t(sp);
      } else {
        ++i;
      }
    } else {
      special |= (k & kSplit) != 0;
      ++i;
    }
  }
  end_chunk(n);
  return true;
}

}  // namespace

void tokenize_13a(const char* s, size_t n, Tokens& out) {
  out.clear();
  if (chunk_13a(s, n, out, false)) return;
  out.clear();
  replace_13a(s, n, out.tmp);
  chunk_13a(out.tmp.data(), out.tmp.size(), out, true);
}

void split_words(const char* s, size_t n, Tokens& out) {
  out.clear();
  split_whitespace(s, n, [&](const char* p, size_t l) { out.tok.emplace_back(p, l); });
}

}  // namespace impdist::text
