// Per-pair n-gram set overlap (Jaccard) on whitespace tokens.
#include "overlap.h"

#include <algorithm>

#include "keymap.h"
#include "parallel.h"
#include "text/intern.h"
#include "text/tokenize.h"

namespace impdist {

namespace {

struct JaccardWork {
  text::Tokens ta, tb;
  text::Interner interner;
  std::vector<uint32_t> toks_a, toks_b, ia, ib;
  KeyMap map;
  std::vector<uint8_t> in_b;
};

// Raise ids from order k-1 to order k; a's n-grams are interned before b's so ids < |A| are a's.
void advance(std::vector<uint32_t>& ia, const std::vector<uint32_t>& ta, std::vector<uint32_t>& ib,
             const std::vector<uint32_t>& tb, int k, KeyMap& map) {
  map.clear(ia.size() + ib.size());
  for (size_t p = 0; p + k <= ta.size(); ++p) ia[p] = map.intern(KeyMap::key(ia[p], ta[p + k - 1]));
  for (size_t p = 0; p + k <= tb.size(); ++p) ib[p] = map.intern(KeyMap::key(ib[p], tb[p + k - 1]));
}

}  // namespace

void ngram_jaccard(const Strs& a, const Strs& b, int n, int threads, double* out) {
  parallel_for_items<JaccardWork>(int64_t(a.size()), threads, [&](JaccardWork& w, int64_t i) {
    text::split_words(a[i].data(), a[i].size(), w.ta);
    text::split_words(b[i].data(), b[i].size(), w.tb);
    w.interner.reset(w.ta.tok.size() + w.tb.tok.size());
    std::vector<uint32_t>& ta = w.toks_a;
    std::vector<uint32_t>& tb = w.toks_b;
    ta.clear();
    tb.clear();
    for (auto t : w.ta.tok) ta.push_back(w.interner.intern(t));
    for (auto t : w.tb.tok) tb.push_back(w.interner.intern(t));
    w.ia = ta;
    w.ib = tb;
    for (int k = 2; k <= n; ++k) advance(w.ia, ta, w.ib, tb, k, w.map);
    const int64_t na = std::max<int64_t>(0, int64_t(ta.size()) - n + 1);
    const int64_t nb = std::max<int64_t>(0, int64_t(tb.size()) - n + 1);
    // a's n-grams took the dense ids 0..da-1; b's new ones follow, so every id < da + nb.
    uint32_t da = 0;
    for (int64_t p = 0; p < na; ++p) da = std::max(da, w.ia[p] + 1);
    w.in_b.assign(size_t(da + nb), 0);
    int64_t inter = 0, db = 0;
    for (int64_t p = 0; p < nb; ++p) {
      const uint32_t g = w.ib[p];
      if (w.in_b[g]) continue;
      w.in_b[g] = 1;
      ++db;
      inter += g < da;
    }
    if (da + db == 0) { out[i] = 0.0; return; }
    out[i] = double(inter) / double(da + db - inter);
  });
}

}  // namespace impdist
