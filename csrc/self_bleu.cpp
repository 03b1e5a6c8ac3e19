// Self-BLEU in time linear in the corpus: each sentence's BLEU against all the others as
// references, from per-n-gram top-two counts (leave-one-out maximum) and the multiset of
// sentence lengths (leave-one-out closest length), instead of N reference scans.
// Matches fast-bleu's SelfBLEU (nltk's corpus_bleu, smoothing method1, float32 uniform weights).
#include "self_bleu.h"

#include <algorithm>
#include <cmath>

#include "corpus.h"
#include "parallel.h"

namespace impdist {

namespace {

// Counts of each distinct id of one sentence, via a small open-addressing table whose
// generation stamps make clearing free; runs come out in order of first occurrence.
class RunCounter {
 public:
  template <class F>
  void for_each_run(const uint32_t* v, int64_t len, F&& f) {
    size_t cap = 16;
    while (cap < size_t(2 * len)) cap <<= 1;
    if (slots_.size() < cap) { slots_.assign(cap, Slot{}); gen_ = 0; }
    if (++gen_ == 0) { std::fill(slots_.begin(), slots_.end(), Slot{}); gen_ = 1; }
    const uint32_t mask = uint32_t(cap - 1);
    order_.clear();
    for (int64_t i = 0; i < len; ++i) {
      uint32_t k = (v[i] * 0x9E3779B1u) & mask;
      while (slots_[k].gen == gen_ && slots_[k].id != v[i]) k = (k + 1) & mask;
      if (slots_[k].gen != gen_) {
        slots_[k] = Slot{v[i], 0, gen_};
        order_.push_back(k);
      }
      ++slots_[k].count;
    }
    for (uint32_t k : order_) f(slots_[k].id, slots_[k].count);
  }

 private:
  struct Slot {
    uint32_t id = 0;
    int32_t count = 0;
    uint32_t gen = 0;
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> order_;
  uint32_t gen_ = 0;
};

// Closest length among all sentences but `self` (one instance of its own length removed);
// ties go to the shorter, as nltk's closest_ref_length.
int64_t closest_other_len(int64_t len, const std::vector<int64_t>& distinct, const std::vector<int64_t>& count_of) {
  const auto it = std::lower_bound(distinct.begin(), distinct.end(), len);
  const size_t pos = size_t(it - distinct.begin());  // distinct[pos] == len
  if (count_of[pos] >= 2) return len;
  int64_t best = -1, best_diff = -1;
  if (pos > 0) { best = distinct[pos - 1]; best_diff = len - best; }
  if (pos + 1 < distinct.size()) {
    const int64_t up = distinct[pos + 1];
    if (best_diff < 0 || up - len < best_diff) best = up;
  }
  return best;
}

struct NoWork {};

}  // namespace

void self_bleu(const Strs& sents, int max_n, int threads, double* out) {
  const Corpus c = tokenize_corpus(sents, threads);
  const int64_t N = c.size();
  // matches[s * max_n + n - 1]: clipped n-gram matches of sentence s against all others.
  std::vector<int64_t> matches(size_t(N) * max_n, 0);
  std::vector<uint32_t> cur(c.ids);
  KeyMap map;
  std::vector<int32_t> top1, top2;
  std::vector<int64_t> holder;
  // Per sentence, its distinct n-grams with counts, stored at the sentence's token offsets
  // (a sentence has no more distinct n-grams than tokens).
  std::vector<uint32_t> run_id(c.ids.size());
  std::vector<int32_t> run_cnt(c.ids.size());
  std::vector<int32_t> runs(N);
  for (int n = 1; n <= max_n; ++n) {
    const uint32_t D = n == 1 ? c.vocab : advance_ngram_order(c, n, cur, map);
    parallel_for_items<RunCounter>(N, threads, [&](RunCounter& rc, int64_t s) {
      const int64_t lo = c.off[s], hi = c.off[s + 1] - n + 1;
      int32_t k = 0;
      if (hi > lo) {
        rc.for_each_run(&cur[lo], hi - lo, [&](uint32_t g, int32_t cnt) {
          run_id[lo + k] = g;
          run_cnt[lo + k] = cnt;
          ++k;
        });
      }
      runs[s] = k;
    });
    // The two largest per-sentence counts of each n-gram (sequential: random updates).
    top1.assign(D, 0);
    top2.assign(D, 0);
    holder.assign(D, -1);
    for (int64_t s = 0; s < N; ++s) {
      for (int64_t r = c.off[s], end = c.off[s] + runs[s]; r < end; ++r) {
        const uint32_t g = run_id[r];
        const int32_t k = run_cnt[r];
        if (k > top1[g]) { top2[g] = top1[g]; top1[g] = k; holder[g] = s; }
        else if (k > top2[g]) top2[g] = k;
      }
    }
    // Clip each sentence's counts by the maximum over the other sentences.
    parallel_for_items<NoWork>(N, threads, [&](NoWork&, int64_t s) {
      int64_t m = 0;
      for (int64_t r = c.off[s], end = c.off[s] + runs[s]; r < end; ++r) {
        const uint32_t g = run_id[r];
        m += std::min(run_cnt[r], holder[g] == s ? top2[g] : top1[g]);
      }
      matches[size_t(s) * max_n + n - 1] = m;
    });
  }
  // Leave-one-out closest reference lengths.
  std::vector<int64_t> lens(N);
  for (int64_t s = 0; s < N; ++s) lens[s] = c.len(s);
  std::vector<int64_t> distinct(lens);
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::vector<int64_t> count_of(distinct.size(), 0);
  for (int64_t l : lens) ++count_of[size_t(std::lower_bound(distinct.begin(), distinct.end(), l) - distinct.begin())];
  const double w = double(float(1.0 / max_n));  // fast-bleu keeps weights as float32
  for (int64_t s = 0; s < N; ++s) {
    const int64_t hyp_len = lens[s];
    const int64_t ref_len = closest_other_len(hyp_len, distinct, count_of);
    const int64_t* m = &matches[size_t(s) * max_n];
    if (m[0] == 0) { out[s] = 0.0; continue; }
    double acc = 0.0;
    for (int n = 1; n <= max_n; ++n) {
      const int64_t den = std::max<int64_t>(1, hyp_len - n + 1);
      // smoothing method1: a zero count becomes epsilon = 0.1 over the n-gram count.
      const long double p = m[n - 1] == 0 ? 1.0L / (static_cast<long double>(den) * 10)
                                           : static_cast<long double>(m[n - 1]) / den;
      acc = double(acc + static_cast<long double>(w) * std::log(p));
    }
    double bp;
    if (hyp_len > ref_len) bp = 1;
    else if (hyp_len == 0) bp = 0;
    else bp = std::exp(1 - double(ref_len) / double(hyp_len));
    out[s] = bp * std::exp(acc);
  }
}

double distinct_n(const Strs& sents, int n, int threads) {
  const Corpus c = tokenize_corpus(sents, threads);
  std::vector<uint32_t> cur(c.ids);
  KeyMap map;
  uint32_t D = c.vocab;
  for (int k = 2; k <= n; ++k) D = advance_ngram_order(c, k, cur, map);
  int64_t total = 0;
  for (int64_t s = 0; s < c.size(); ++s) total += std::max<int64_t>(0, c.len(s) - n + 1);
  return total == 0 ? 0.0 : double(D) / double(total);
}

}  // namespace impdist
