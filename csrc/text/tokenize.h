// Tokenizers that reproduce the reference libraries' token streams byte for byte.
//   rouge: rouge-score's tokenize.tokenize (lowercase, runs of [a-z0-9], optional Porter stems)
//   13a:   sacrebleu's Tokenizer13a after BLEU's rstrip, then str.split()
//   words: str.split()
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace impdist::text {

// A token list; the views point into `buf` (or into the input, for split_words).
struct Tokens {
  std::vector<std::string_view> tok;
  std::string buf;
  std::string tmp;  // scratch for the tokenizers' intermediate text
  void clear() { tok.clear(); }
};

// rouge-score tokenizer. Returns true when the text held non-ASCII characters outside the
// punctuation and symbol blocks (likely letters), which rouge-score silently drops.
bool tokenize_rouge(const char* s, size_t n, bool stem, Tokens& out);

// sacrebleu 13a tokenizer, as BLEU applies it (after str.rstrip()).
void tokenize_13a(const char* s, size_t n, Tokens& out);

// str.split(): views into the input.
void split_words(const char* s, size_t n, Tokens& out);

}  // namespace impdist::text
