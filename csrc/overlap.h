// Per-pair n-gram overlap on whitespace tokens.
#pragma once
#include "lexical.h"

namespace impdist {

// out[i] = |A ∩ B| / |A ∪ B| over the sets of n-grams of a[i] and b[i]; 0 when both are empty.
void ngram_jaccard(const Strs& a, const Strs& b, int n, int threads, double* out);

}  // namespace impdist
