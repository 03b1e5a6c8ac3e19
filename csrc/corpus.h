// A whitespace-tokenized corpus with exact global n-gram ids, for corpus-level statistics
// (self-BLEU, distinct-n). Token views point into the caller's strings.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "keymap.h"
#include "lexical.h"  // Strs

namespace impdist {

struct Corpus {
  std::vector<uint32_t> ids;  // token ids of all sentences back to back
  std::vector<int64_t> off;   // sentence s spans ids[off[s] .. off[s+1])
  uint32_t vocab = 0;
  int64_t size() const { return int64_t(off.size()) - 1; }
  int64_t len(int64_t s) const { return off[s + 1] - off[s]; }
};

// str.split() every sentence and intern the tokens (chunks in parallel, then merged).
Corpus tokenize_corpus(const Strs& sents, int threads);

// Turns cur (ids of the (n-1)-grams starting at each position) into ids of the n-grams starting
// there, kNoId where a sentence ends too soon. cur starts as corpus.ids for n = 2.
// Returns the number of distinct n-grams; map is cleared and reused.
uint32_t advance_ngram_order(const Corpus& c, int n, std::vector<uint32_t>& cur, KeyMap& map);

}  // namespace impdist
