// Corpus-level n-gram statistics on whitespace tokens: self-BLEU and distinct-n.
#pragma once
#include "lexical.h"

namespace impdist {

// out[s] = BLEU-max_n of sentence s against all other sentences (fast-bleu's SelfBLEU).
void self_bleu(const Strs& sents, int max_n, int threads, double* out);

// Distinct n-grams over total n-grams in the corpus (Li et al., 2016); 0 when there are none.
double distinct_n(const Strs& sents, int n, int threads);

}  // namespace impdist
