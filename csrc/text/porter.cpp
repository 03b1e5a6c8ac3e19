// Exact port of nltk.stem.porter.PorterStemmer (mode NLTK_EXTENSIONS, nltk 3.10.4), the stemmer
// rouge-score uses with use_stemmer=True. Each _stepX of the Python class is one function below,
// and each suffix-rule list is a static table in the Python order, so the two read side by side.
//
// The stem is built in place in `out`: every NLTK rule replaces a suffix with one no longer than
// what it removed (at/bl/iz -> +e only after -ed/-ing went), so the word never grows past n and
// no per-word allocation or fixed-size buffer is needed. No global mutable state (OpenMP-safe).
#include "porter.h"

#include <cstdint>
#include <cstring>
#include <string_view>

namespace impdist::text {
namespace {

using std::string_view;

// True for the five letters Porter always treats as vowels.
inline bool is_vowel_letter(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

// NLTK _is_consonant: a 'y' is a consonant iff it starts the word or follows a vowel, so a run
// of 'y's alternates; resolved by walking back over the run (as NLTK's iterative version does).
inline bool is_consonant(const char* s, size_t i) {
  if (is_vowel_letter(s[i])) return false;
  if (s[i] != 'y') return true;  // digits count as consonants, as in NLTK
  bool negate = false;
  while (i > 0 && s[i] == 'y') {
    negate = !negate;
    --i;
  }
  return !is_vowel_letter(s[i]) != negate;
}

// Consonant flag of the letter c at position i given the flag of the letter before it: the
// left-to-right form of is_consonant (NLTK _consonant_flags), O(1) per letter.
inline bool next_is_consonant(char c, size_t i, bool prev_cons) {
  if (is_vowel_letter(c)) return false;
  if (c == 'y') return i == 0 || !prev_cons;
  return true;
}

// NLTK _measure: number of vowel->consonant transitions ("vc" pairs) in s[0..n), one pass.
inline int measure(const char* s, size_t n) {
  int m = 0;
  bool prev_cons = true;  // a "vc" pair needs a predecessor, so position 0 never counts
  for (size_t i = 0; i < n; ++i) {
    const bool cons = next_is_consonant(s[i], i, prev_cons);
    if (!prev_cons && cons) ++m;
    prev_cons = cons;
  }
  return m;
}

// NLTK _contains_vowel: some position of s[0..n) is a vowel (an empty stem has none).
inline bool contains_vowel(const char* s, size_t n) {
  bool prev_cons = true;
  for (size_t i = 0; i < n; ++i) {
    prev_cons = next_is_consonant(s[i], i, prev_cons);
    if (!prev_cons) return true;
  }
  return false;
}

// NLTK _ends_double_consonant (*d): the last two letters are equal and the last is a consonant.
inline bool ends_double_consonant(const char* s, size_t n) {
  return n >= 2 && s[n - 1] == s[n - 2] && is_consonant(s, n - 1);
}

// NLTK _ends_cvc (*o), NLTK_EXTENSIONS variant: cvc with last not w/x/y, or a 2-letter "vc"
// stem (which, unlike the 3-letter case, does not exclude w/x/y: "ow" qualifies).
inline bool ends_cvc(const char* s, size_t n) {
  if (n >= 3 && is_consonant(s, n - 3) && !is_consonant(s, n - 2) && is_consonant(s, n - 1) &&
      s[n - 1] != 'w' && s[n - 1] != 'x' && s[n - 1] != 'y')
    return true;
  return n == 2 && !is_consonant(s, 0) && is_consonant(s, 1);
}

// str.endswith for s[0..n) (suf non-empty). The last letter is compared first: it rejects most
// rules of a table without a memcmp call.
inline bool ends_with(const char* s, size_t n, string_view suf) {
  return n >= suf.size() && s[n - 1] == suf.back() &&
         std::memcmp(s + n - suf.size(), suf.data(), suf.size()) == 0;
}

// Writes `repl` after the stem s[0..stem_len) and returns the new length (stem + repl).
inline size_t put(char* s, size_t stem_len, string_view repl) {
  if (!repl.empty()) std::memcpy(s + stem_len, repl.data(), repl.size());
  return stem_len + repl.size();
}

// The conditions that appear in NLTK's rule lists (steps 2-5b).
enum class Cond : unsigned char {
  kNone,        // unconditional
  kMGt0,        // _has_positive_measure(stem)
  kMGt0PlusL,   // step2 "logi": measure of word[:-3], i.e. the stem with the 'l' kept
  kMGt1,        // step4 measure_gt_1(stem)
  kMGt1AndST,   // step4 "ion": measure(stem) > 1 and stem ends in 's' or 't'
  kMGt1PlusL,   // step5b "ll": measure of word[:-1]
};

struct Rule {
  string_view suffix;
  string_view repl;
  Cond cond;
};

// Evaluates `c` for the stem s[0..stem_len) (which is followed in s by the matched suffix).
inline bool holds(Cond c, const char* s, size_t stem_len) {
  switch (c) {
    case Cond::kNone: return true;
    case Cond::kMGt0: return measure(s, stem_len) > 0;
    case Cond::kMGt0PlusL: return measure(s, stem_len + 1) > 0;
    case Cond::kMGt1: return measure(s, stem_len) > 1;
    case Cond::kMGt1AndST:
      return measure(s, stem_len) > 1 && (s[stem_len - 1] == 's' || s[stem_len - 1] == 't');
    case Cond::kMGt1PlusL: return measure(s, stem_len + 1) > 1;
  }
  return false;
}

// Bit set of the last letters of a table's suffixes: a word ending in any other character
// matches none of its rules, which lets most words skip the whole scan.
template <size_t N>
constexpr uint32_t last_letters(const Rule (&rules)[N]) {
  uint32_t mask = 0;
  for (const Rule& r : rules) mask |= uint32_t{1} << (r.suffix.back() - 'a');
  return mask;
}

// True if c is a letter in `mask` (digits never are).
inline bool in_mask(char c, uint32_t mask) {
  const unsigned k = static_cast<unsigned char>(c) - unsigned{'a'};
  return k < 26 && ((mask >> k) & 1u);
}

// NLTK _apply_rule_list (without the "*d" pseudo-suffix, which only step1b uses): the first rule
// whose suffix matches decides; if its condition fails the word is returned unchanged.
// `mask` is last_letters(rules), passed in so that it is a compile-time constant.
template <size_t N>
size_t apply_rule_list(char* s, size_t n, const Rule (&rules)[N], uint32_t mask) {
  if (n == 0 || !in_mask(s[n - 1], mask)) return n;
  for (const Rule& r : rules) {
    if (!ends_with(s, n, r.suffix)) continue;
    const size_t stem_len = n - r.suffix.size();
    return holds(r.cond, s, stem_len) ? put(s, stem_len, r.repl) : n;
  }
  return n;
}

// NLTK_EXTENSIONS irregular forms (self.pool): word -> stem, checked before anything else.
struct Irregular {
  string_view word;
  string_view stem;
};
constexpr Irregular kPool[] = {
    {"sky", "sky"},          {"skies", "sky"},        {"dying", "die"},
    {"lying", "lie"},        {"tying", "tie"},        {"news", "news"},
    {"innings", "inning"},   {"inning", "inning"},    {"outings", "outing"},
    {"outing", "outing"},    {"cannings", "canning"}, {"canning", "canning"},
    {"howe", "howe"},        {"proceed", "proceed"},  {"exceed", "exceed"},
    {"succeed", "succeed"},
};

// Step 1a: plural -s forms; NLTK adds "ies" of a 4-letter word -> "ie" ("dies" -> "die").
size_t step1a(char* s, size_t n) {
  static constexpr Rule kRules[] = {
      {"sses", "ss", Cond::kNone},
      {"ies", "i", Cond::kNone},
      {"ss", "ss", Cond::kNone},
      {"s", "", Cond::kNone},
  };
  static constexpr uint32_t kMask = last_letters(kRules);
  if (n == 4 && ends_with(s, n, "ies")) return put(s, n - 3, "ie");
  return apply_rule_list(s, n, kRules, kMask);
}

// Step 1b: -eed/-ed/-ing, then the at/bl/iz/*d/cvc tidy-up on the remaining stem.
// NLTK adds "ied" -> "ie" for 4-letter words, else "i" ("died" -> "die", "spied" -> "spi").
size_t step1b(char* s, size_t n) {
  if (ends_with(s, n, "ied")) return put(s, n - 3, n == 4 ? "ie" : "i");

  // (m>0) EED -> EE; a failed condition still stops the step ("feed" stays "feed").
  if (ends_with(s, n, "eed")) return measure(s, n - 3) > 0 ? put(s, n - 3, "ee") : n;

  // (*v*) ED -> , (*v*) ING -> : the first suffix whose stem contains a vowel wins.
  size_t m = n;  // length of NLTK's intermediate_stem
  bool removed = false;
  for (string_view suf : {string_view("ed"), string_view("ing")}) {
    if (ends_with(s, n, suf) && contains_vowel(s, n - suf.size())) {
      m = n - suf.size();
      removed = true;
      break;
    }
  }
  if (!removed) return n;

  // Rule list applied to the intermediate stem, in NLTK's order; m >= 1 because it has a vowel.
  if (ends_with(s, m, "at")) return put(s, m, "e");  // AT -> ATE
  if (ends_with(s, m, "bl")) return put(s, m, "e");  // BL -> BLE
  if (ends_with(s, m, "iz")) return put(s, m, "e");  // IZ -> IZE
  if (ends_double_consonant(s, m)) {
    // (*d and not (*L or *S or *Z)) -> single letter; for l/s/z the stem is kept and no
    // further rule is tried.
    const char last = s[m - 1];
    return (last == 'l' || last == 's' || last == 'z') ? m : m - 1;
  }
  // ("" -> "e") if (m=1 and *o): the empty suffix always matches.
  if (measure(s, m) == 1 && ends_cvc(s, m)) return put(s, m, "e");
  return m;
}

// Step 1c, NLTK condition: Y -> I when the 'y' follows a consonant and the stem is longer
// than one letter ("happy" -> "happi", "enjoy" and "by" unchanged).
size_t step1c(char* s, size_t n) {
  if (!ends_with(s, n, "y")) return n;
  const size_t stem_len = n - 1;
  if (stem_len > 1 && is_consonant(s, stem_len - 1)) s[stem_len] = 'i';
  return n;
}

// Step 2: double suffixes to single ones (m>0). NLTK tries ALLI -> AL first and, if it applies,
// runs step 2 again on the result; it uses BLI (not ABLI) and adds FULLI and LOGI.
size_t step2(char* s, size_t n) {
  static constexpr Rule kRules[] = {
      {"ational", "ate", Cond::kMGt0}, {"tional", "tion", Cond::kMGt0},
      {"enci", "ence", Cond::kMGt0},   {"anci", "ance", Cond::kMGt0},
      {"izer", "ize", Cond::kMGt0},    {"bli", "ble", Cond::kMGt0},
      {"alli", "al", Cond::kMGt0},     {"entli", "ent", Cond::kMGt0},
      {"eli", "e", Cond::kMGt0},       {"ousli", "ous", Cond::kMGt0},
      {"ization", "ize", Cond::kMGt0}, {"ation", "ate", Cond::kMGt0},
      {"ator", "ate", Cond::kMGt0},    {"alism", "al", Cond::kMGt0},
      {"iveness", "ive", Cond::kMGt0}, {"fulness", "ful", Cond::kMGt0},
      {"ousness", "ous", Cond::kMGt0}, {"aliti", "al", Cond::kMGt0},
      {"iviti", "ive", Cond::kMGt0},   {"biliti", "ble", Cond::kMGt0},
      {"fulli", "ful", Cond::kMGt0},
      // The 'l' stays with the stem for the measure, so "geologi" -> "geolog".
      {"logi", "log", Cond::kMGt0PlusL},
  };
  static constexpr uint32_t kMask = last_letters(kRules);
  if (ends_with(s, n, "alli") && measure(s, n - 4) > 0) return step2(s, put(s, n - 4, "al"));
  return apply_rule_list(s, n, kRules, kMask);
}

// Step 3: -icate, -ative, -ful, -ness etc. (m>0).
size_t step3(char* s, size_t n) {
  static constexpr Rule kRules[] = {
      {"icate", "ic", Cond::kMGt0}, {"ative", "", Cond::kMGt0}, {"alize", "al", Cond::kMGt0},
      {"iciti", "ic", Cond::kMGt0}, {"ical", "ic", Cond::kMGt0}, {"ful", "", Cond::kMGt0},
      {"ness", "", Cond::kMGt0},
  };
  static constexpr uint32_t kMask = last_letters(kRules);
  return apply_rule_list(s, n, kRules, kMask);
}

// Step 4: strip residual suffixes (m>1); "ion" also needs the stem to end in s or t.
size_t step4(char* s, size_t n) {
  static constexpr Rule kRules[] = {
      {"al", "", Cond::kMGt1},    {"ance", "", Cond::kMGt1},  {"ence", "", Cond::kMGt1},
      {"er", "", Cond::kMGt1},    {"ic", "", Cond::kMGt1},    {"able", "", Cond::kMGt1},
      {"ible", "", Cond::kMGt1},  {"ant", "", Cond::kMGt1},   {"ement", "", Cond::kMGt1},
      {"ment", "", Cond::kMGt1},  {"ent", "", Cond::kMGt1},   {"ion", "", Cond::kMGt1AndST},
      {"ou", "", Cond::kMGt1},    {"ism", "", Cond::kMGt1},   {"ate", "", Cond::kMGt1},
      {"iti", "", Cond::kMGt1},   {"ous", "", Cond::kMGt1},   {"ive", "", Cond::kMGt1},
      {"ize", "", Cond::kMGt1},
  };
  static constexpr uint32_t kMask = last_letters(kRules);
  return apply_rule_list(s, n, kRules, kMask);
}

// Step 5a: drop a final 'e' if m>1, or if m=1 and the stem does not end cvc. Both conditions
// are tried (unlike a rule list), which is why NLTK writes this step out by hand.
size_t step5a(char* s, size_t n) {
  if (!ends_with(s, n, "e")) return n;
  const size_t stem_len = n - 1;
  const int m = measure(s, stem_len);
  if (m > 1) return stem_len;
  if (m == 1 && !ends_cvc(s, stem_len)) return stem_len;
  return n;
}

// Step 5b: -ll -> -l when the measure of the word minus one 'l' is > 1 ("controll" -> "control").
size_t step5b(char* s, size_t n) {
  static constexpr Rule kRules[] = {{"ll", "l", Cond::kMGt1PlusL}};
  static constexpr uint32_t kMask = last_letters(kRules);
  return apply_rule_list(s, n, kRules, kMask);
}

}  // namespace

size_t porter_stem(const char* w, size_t n, char* out) {
  for (const Irregular& irr : kPool) {
    if (irr.word.size() == n && std::memcmp(irr.word.data(), w, n) == 0) {
      std::memcpy(out, irr.stem.data(), irr.stem.size());
      return irr.stem.size();
    }
  }
  if (n > 0) std::memcpy(out, w, n);
  if (n <= 2) return n;  // NLTK leaves words of length <= 2 alone

  n = step1a(out, n);
  n = step1b(out, n);
  n = step1c(out, n);
  n = step2(out, n);
  n = step3(out, n);
  n = step4(out, n);
  n = step5a(out, n);
  n = step5b(out, n);
  return n;
}

}  // namespace impdist::text
