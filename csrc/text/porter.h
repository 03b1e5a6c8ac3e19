// NLTK's PorterStemmer (mode NLTK_EXTENSIONS, the default that rouge-score uses), exactly.
#pragma once
#include <cstddef>

namespace impdist::text {

// Writes the stem of the lowercase ASCII word w[0..n) to out (capacity >= n + 8) and returns its
// length. Same result as nltk.stem.porter.PorterStemmer().stem(w) for any [a-z0-9]* input.
size_t porter_stem(const char* w, size_t n, char* out);

}  // namespace impdist::text
