// Number scan of ASCII sentences: one left-to-right pass doing what Python's re does with the
// _SCAN pattern of impdist/filters/numbers.py on the lower-cased text (\w, \s, \b on ASCII).
#include "numbers.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>

#include "parallel.h"

namespace impdist {

namespace {

constexpr size_t kNone = std::string_view::npos;

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_word(char c) { return is_digit(c) || is_alpha(c) || c == '_'; }  // \w
inline bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f'); }  // \s
inline char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }

// Number words: kStart may begin a span or follow any gap; kAfterTens ("first", "second") only
// follows a tens word across spaces or hyphens ("twenty-first").
enum : unsigned { kStart = 1, kTens = 2, kAfterTens = 4 };

// A token of up to 12 letters packed 5 bits a letter, case-folded; 0 for anything else.
uint64_t pack(std::string_view s) {
  if (s.empty() || s.size() > 12) return 0;
  uint64_t code = 0;
  for (char c : s) {
    if (!is_alpha(c)) return 0;
    code = code << 5 | uint64_t(lower(c) - 'a' + 1);
  }
  return code;
}

unsigned word_class(std::string_view s) {
  // Sorted (code, class) pairs, built once; a token costs one pack and a binary search.
  static const std::vector<std::pair<uint64_t, unsigned>> table = [] {
    std::vector<std::pair<uint64_t, unsigned>> t;
    for (const char* w : {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                          "eighteen", "nineteen", "hundred", "thousand", "million", "billion", "trillion",
                          "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
                          "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
                          "seventeenth", "eighteenth", "nineteenth", "twentieth", "thirtieth", "fortieth",
                          "fiftieth", "sixtieth", "seventieth", "eightieth", "ninetieth", "hundredth",
                          "thousandth", "millionth", "billionth"})
      t.emplace_back(pack(w), kStart);
    for (const char* w : {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"})
      t.emplace_back(pack(w), kStart | kTens);
    t.emplace_back(pack("first"), kAfterTens);
    t.emplace_back(pack("second"), kAfterTens);
    std::sort(t.begin(), t.end());
    return t;
  }();
  const uint64_t code = pack(s);
  if (code == 0) return 0;
  auto it = std::lower_bound(table.begin(), table.end(), std::make_pair(code, 0u));
  return it != table.end() && it->first == code ? it->second : 0;
}

size_t token_end(std::string_view s, size_t i) {
  while (i < s.size() && is_word(s[i])) ++i;
  return i;
}

size_t digits_end(std::string_view s, size_t i) {
  while (i < s.size() && is_digit(s[i])) ++i;
  return i;
}

// End of the numeral at q, or kNone: \d{1,3}(?:,\d{3})+(?!\d) or \d+, then (?:\.\d+)?; or \.\d+.
size_t numeral_end(std::string_view s, size_t q) {
  const size_t n = s.size();
  if (q < n && is_digit(s[q])) {
    const size_t run = digits_end(s, q);
    size_t e = run;
    if (run - q <= 3) {  // the most ",ddd" groups whose end is not followed by a digit
      size_t g = run, best = kNone;
      while (g + 3 < n && s[g] == ',' && is_digit(s[g + 1]) && is_digit(s[g + 2]) && is_digit(s[g + 3])) {
        g += 4;
        if (g == n || !is_digit(s[g])) best = g;
      }
      if (best != kNone) e = best;
    }
    if (e + 1 < n && s[e] == '.' && is_digit(s[e + 1])) e = digits_end(s, e + 1);
    return e;
  }
  if (q + 1 < n && s[q] == '.' && is_digit(s[q + 1])) return digits_end(s, q + 1);
  return kNone;
}

// Plain decimal string of numeral * 10^scale: no separators, leading or trailing zeros; -0 is 0.
std::string normalise(std::string_view numeral, bool negative, int scale) {
  std::string digits;
  size_t whole = 0;
  bool frac = false;
  for (char c : numeral) {
    if (c == ',') continue;
    if (c == '.') { frac = true; continue; }
    digits.push_back(c);
    whole += !frac;
  }
  const size_t point = whole + size_t(scale);
  if (digits.size() < point) digits.append(point - digits.size(), '0');
  size_t a = 0, b = digits.size();
  while (a < point && digits[a] == '0') ++a;
  while (b > point && digits[b - 1] == '0') --b;
  std::string out = negative && (a < point || b > point) ? "-" : "";
  if (a == point) out.push_back('0');
  else out.append(digits, a, point - a);
  if (b > point) out.append(".").append(digits, point, b - point);
  return out;
}

// (?:\s+(hundred|thousand|million|billion|trillion)\b)? after a numeral ending at e.
int scale_after(std::string_view s, size_t e, size_t* end) {
  static const std::pair<std::string_view, int> scales[] = {
      {"hundred", 2}, {"thousand", 3}, {"million", 6}, {"billion", 9}, {"trillion", 12}};
  size_t j = e;
  while (j < s.size() && is_space(s[j])) ++j;
  if (j == e) return 0;
  for (const auto& [word, power] : scales) {
    const size_t k = j + word.size();
    if (k > s.size() || (k < s.size() && is_word(s[k]))) continue;
    bool same = true;
    for (size_t i = 0; i < word.size() && same; ++i) same = lower(s[j + i]) == word[i];
    if (same) { *end = k; return power; }
  }
  return 0;
}

bool is_and(std::string_view t) { return pack(t) == pack("and"); }

// End of the number-word span whose first token ends at te and has class cls: further number
// words join across [\s-]+ or across \s+and\s+ ("one hundred and five").
size_t span_end(std::string_view s, size_t te, unsigned cls) {
  const size_t n = s.size();
  size_t end = te;
  for (;;) {
    size_t k = end;
    bool hyphen = false;
    while (k < n && (is_space(s[k]) || s[k] == '-')) hyphen |= s[k++] == '-';
    if (k == end || k == n || !is_word(s[k])) return end;
    size_t next = token_end(s, k);
    unsigned next_cls = word_class(s.substr(k, next - k));
    bool joins = (next_cls & kStart) || ((next_cls & kAfterTens) && (cls & kTens));
    if (!joins && !hyphen && is_and(s.substr(k, next - k)) && next < n && is_space(s[next])) {
      size_t w = next;
      while (w < n && is_space(s[w])) ++w;
      if (w < n && is_word(s[w])) {
        next = token_end(s, w);
        next_cls = word_class(s.substr(w, next - w));
        joins = next_cls & kStart;
      }
    }
    if (!joins) return end;
    end = next;
    cls = next_cls;
  }
}

void scan_one(std::string_view s, NumberScan& out) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return;  // not ASCII: Python's regex reads it
  out.scanned = true;
  const size_t n = s.size();
  size_t p = 0;
  while (p < n) {
    const bool after_word = p > 0 && is_word(s[p - 1]);
    if (!after_word && !(p > 0 && s[p - 1] == '.')) {  // (?<![\w.])
      const bool sign = s[p] == '-';
      const size_t q = p + sign;
      const size_t e = numeral_end(s, q);
      if (e != kNone) {
        size_t end = e;
        const int power = scale_after(s, e, &end);
        out.numerals.push_back(normalise(s.substr(q, e - q), sign, power));
        p = end;
        continue;
      }
    }
    if (!after_word && is_alpha(s[p])) {  // \b before a letter: the token may open a span
      const size_t te = token_end(s, p);
      const unsigned cls = word_class(s.substr(p, te - p));
      const size_t end = cls & kStart ? span_end(s, te, cls) : te;
      if (cls & kStart) {
        std::string span(s.substr(p, end - p));
        for (char& c : span) c = lower(c);
        out.word_spans.push_back(std::move(span));
      }
      p = end;
      continue;
    }
    ++p;
  }
}

struct NoWork {};

}  // namespace

void scan_numbers(const Strs& texts, int threads, std::vector<NumberScan>& out) {
  out.assign(texts.size(), NumberScan{});
  parallel_for_items<NoWork>(int64_t(texts.size()), threads,
                             [&](NoWork&, int64_t i) { scan_one(texts[size_t(i)], out[size_t(i)]); });
}

}  // namespace impdist
