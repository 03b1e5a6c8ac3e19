#include "corpus.h"

#include "parallel.h"
#include "text/intern.h"
#include "text/tokenize.h"

namespace impdist {

Corpus tokenize_corpus(const Strs& sents, int threads) {
  const int64_t n = int64_t(sents.size());
  const int nt = resolve_threads(threads);
  struct Part {
    std::vector<uint32_t> ids;             // chunk-local ids
    std::vector<int64_t> lens;
    std::vector<std::string_view> vocab;   // chunk-local id -> token
  };
  std::vector<Part> parts(nt);
  parallel_chunks(n, threads, [&](int c, int64_t lo, int64_t hi) {
    Part& p = parts[c];
    text::Tokens t;
    text::Interner in;
    in.reset(1024);
    for (int64_t s = lo; s < hi; ++s) {
      text::split_words(sents[s].data(), sents[s].size(), t);
      for (auto tok : t.tok) {
        const uint32_t before = in.size();
        const uint32_t id = in.intern(tok);
        if (id == before) p.vocab.push_back(tok);
        p.ids.push_back(id);
      }
      p.lens.push_back(int64_t(t.tok.size()));
    }
  });
  Corpus c;
  text::Interner global;
  global.reset(1024);
  c.off.reserve(n + 1);
  c.off.push_back(0);
  size_t total = 0;
  for (auto& p : parts) total += p.ids.size();
  c.ids.reserve(total);
  for (auto& p : parts) {
    std::vector<uint32_t> remap(p.vocab.size());
    for (size_t k = 0; k < p.vocab.size(); ++k) remap[k] = global.intern(p.vocab[k]);
    for (uint32_t id : p.ids) c.ids.push_back(remap[id]);
    for (int64_t l : p.lens) c.off.push_back(c.off.back() + l);
  }
  c.vocab = global.size();
  return c;
}

uint32_t advance_ngram_order(const Corpus& c, int n, std::vector<uint32_t>& cur, KeyMap& map) {
  map.clear(c.ids.size() + 16);  // distinct n-grams <= tokens: no rehash
  const int64_t ns = c.size();
  constexpr int kAhead = 8;  // prefetch distance: the table is far larger than the caches
  for (int64_t s = 0; s < ns; ++s) {
    const int64_t lo = c.off[s], hi = c.off[s + 1];
    for (int64_t p = lo; p < hi; ++p) {
      if (p + n - 1 >= hi || cur[p] == kNoId) {
        cur[p] = kNoId;
        continue;
      }
      if (p + kAhead + n - 1 < hi && cur[p + kAhead] != kNoId)
        map.prefetch(KeyMap::key(cur[p + kAhead], c.ids[p + kAhead + n - 1]));
      cur[p] = map.intern(KeyMap::key(cur[p], c.ids[p + n - 1]));
    }
  }
  return map.size();
}

}  // namespace impdist
