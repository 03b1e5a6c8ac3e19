#include "tokenize.h"

#include <cstring>

#include "porter.h"
#include "unicode.h"

namespace impdist::text {

void Tokens::finish_spans() {
  tok.clear();
  tok.reserve(start.size());
  for (size_t i = 0; i < start.size(); ++i) tok.emplace_back(buf.data() + start[i], len[i]);
}

namespace {

inline bool is_alnum_lower(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Non-ASCII code points rouge-score drops that are probably letters, not punctuation/symbols.
inline bool looks_like_letter(uint32_t cp) {
  if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7) return false;
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;  // punctuation, symbols, arrows, shapes
  if (cp >= 0x3000 && cp <= 0x303F) return false;  // CJK punctuation
  if (cp >= 0xFE00 && cp <= 0xFE6F) return false;  // variation selectors, small forms
  if (cp >= 0xFF00 && cp <= 0xFF0F) return false;  // fullwidth punctuation
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

inline bool in_13a_class1(unsigned char c) {
  // [\{-\~\[-\` -\&\(-\+\:-\@\/] : every ASCII punctuation but ' , - .
  return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
         (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F;
}
inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool is_dot_comma(unsigned char c) { return c == '.' || c == ','; }

}  // namespace

bool tokenize_rouge(const char* s, size_t n, bool stem, Tokens& out) {
  out.clear();
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  bool dropped_letters = false;
  std::string& raw = stem ? out.tmp : out.buf;
  raw.clear();
  std::vector<uint32_t>& st = out.start;
  std::vector<uint32_t>& ln = out.len;
  size_t tok_start = 0;
  bool in_tok = false;
  auto end_tok = [&] {
    if (in_tok) { st.push_back(uint32_t(tok_start)); ln.push_back(uint32_t(raw.size() - tok_start)); }
    in_tok = false;
  };
  auto put = [&](char c) {
    if (!in_tok) { tok_start = raw.size(); in_tok = true; }
    raw.push_back(c);
  };
  for (size_t i = 0; i < n;) {
    const unsigned char c = u[i];
    if (c < 0x80) {
      const unsigned char l = (c >= 'A' && c <= 'Z') ? c + 32 : c;
      if (is_alnum_lower(l)) put(char(l));
      else end_tok();
      ++i;
      continue;
    }
    uint32_t cp;
    i += utf8_decode(u, n, i, &cp);
    // str.lower() maps exactly two non-ASCII code points to ASCII letters.
    if (cp == 0x212A) {         // KELVIN SIGN -> 'k'
      put('k');
    } else if (cp == 0x130) {   // LATIN CAPITAL I WITH DOT -> 'i' + COMBINING DOT (a separator)
      put('i');
      end_tok();
    } else {
      dropped_letters |= looks_like_letter(cp);
      end_tok();
    }
  }
  end_tok();
  if (stem) {
    out.buf.clear();
    out.buf.reserve(raw.size() + 8 * st.size());
    for (size_t t = 0; t < st.size(); ++t) {
      const size_t at = out.buf.size();
      if (ln[t] > 3) {
        out.buf.resize(at + ln[t] + 8);
        const size_t m = porter_stem(raw.data() + st[t], ln[t], &out.buf[at]);
        out.buf.resize(at + m);
      } else {
        out.buf.append(raw, st[t], ln[t]);
      }
      st[t] = uint32_t(at);
      ln[t] = uint32_t(out.buf.size() - at);
    }
    // rouge-score drops tokens that end up empty or invalid after stemming.
    size_t k = 0;
    for (size_t t = 0; t < st.size(); ++t)
      if (ln[t] > 0) { st[k] = st[t]; ln[k] = ln[t]; ++k; }
    st.resize(k);
    ln.resize(k);
  }
  out.finish_spans();
  return dropped_letters;
}

void tokenize_13a(const char* s, size_t n, Tokens& out) {
  out.clear();
  std::string& a = out.buf;
  std::string& b = out.tmp;
  a.assign(s, rstrip_len(s, n));
  // Tokenizer13a's language-independent part, each a literal str.replace pass.
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
  // TokenizerRegexp's four substitutions on f' {line} ', each emulating re.sub's
  // non-overlapping left-to-right matching. Byte-wise scanning is exact here: every pattern
  // character is ASCII and UTF-8 continuation bytes never match one.
  b.clear();
  b.push_back(' ');
  for (unsigned char c : a) {
    if (in_13a_class1(c)) { b.push_back(' '); b.push_back(char(c)); b.push_back(' '); }
    else b.push_back(char(c));
  }
  b.push_back(' ');
  a.clear();  // ([^0-9])([\.,]) -> \1 \2
  for (size_t i = 0; i < b.size();) {
    const unsigned char c = b[i];
    if (i + 1 < b.size() && !is_digit(c) && is_dot_comma(b[i + 1])) {
      a.push_back(char(c)); a.push_back(' '); a.push_back(b[i + 1]); a.push_back(' ');
      i += 2;
    } else {
      a.push_back(char(c));
      ++i;
    }
  }
  b.clear();  // ([\.,])([^0-9]) -> ' \1 \2'
  for (size_t i = 0; i < a.size();) {
    const unsigned char c = a[i];
    if (i + 1 < a.size() && is_dot_comma(c) && !is_digit(a[i + 1])) {
      b.push_back(' '); b.push_back(char(c)); b.push_back(' '); b.push_back(a[i + 1]);
      i += 2;
    } else {
      b.push_back(char(c));
      ++i;
    }
  }
  a.clear();  // ([0-9])(-) -> \1 \2
  for (size_t i = 0; i < b.size();) {
    const unsigned char c = b[i];
    if (i + 1 < b.size() && is_digit(c) && b[i + 1] == '-') {
      a.push_back(char(c)); a.push_back(' '); a.push_back('-'); a.push_back(' ');
      i += 2;
    } else {
      a.push_back(char(c));
      ++i;
    }
  }
  // Tokens are views into `a` (out.buf), which no longer changes.
  split_whitespace(a.data(), a.size(), [&](const char* p, size_t l) { out.tok.emplace_back(p, l); });
}

void split_words(const char* s, size_t n, Tokens& out) {
  out.clear();
  split_whitespace(s, n, [&](const char* p, size_t l) { out.tok.emplace_back(p, l); });
}

}  // namespace impdist::text
