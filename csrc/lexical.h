// Batch drivers of the lexical metrics (ROUGE, BLEU) on the CPU, and the tokenized-batch
// layout handed to the CUDA kernels. Strings arrive as UTF-8 views; nothing here touches Python.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace impdist {

using Strs = std::vector<std::string_view>;

// Tokenized items in CSR form (see pair_stats.h for what the segments mean).
struct TokenizedBatch {
  std::vector<uint32_t> ids;
  std::vector<int64_t> seg_off{0};   // segment boundaries into ids, all items back to back
  std::vector<int64_t> item_seg{0};  // item i owns segments item_seg[i] .. item_seg[i+1]-1
  std::vector<uint32_t> d0;          // distinct ids of each item's segment 0
  std::vector<uint8_t> swapped;      // ROUGE: segment 0 is the reference
  void append(const TokenizedBatch& o);
};

// ROUGE stats rows [overlap, cand count, ref count], one per order and pair (out: n x K x 3),
// all orders from one tokenization; order 0 = ROUGE-L, n = ROUGE-n.
// Returns the number of texts that held likely letters rouge-score's tokenizer drops.
int64_t rouge_stats(const Strs& cands, const Strs& refs, const std::vector<int32_t>& orders, bool stem,
                    int threads, int64_t* out);
TokenizedBatch tokenize_rouge_batch(const Strs& cands, const Strs& refs, bool stem, int threads,
                                    int64_t* dropped);

// BLEU stats rows (sacrebleu layout); item i's references are refs[ref_off[i] .. ref_off[i+1]).
void bleu_stats(const Strs& hyps, const Strs& refs, const std::vector<int64_t>& ref_off, int threads,
                int64_t* out);
TokenizedBatch tokenize_bleu_batch(const Strs& hyps, const Strs& refs, const std::vector<int64_t>& ref_off,
                                   int threads);

// Scores from stats: the single definition both devices share.
void rouge_scores(const int64_t* stats, int64_t n, int order, double* out);  // out: n x 3
double bleu_score(const int64_t* row, bool effective_order);                 // sacrebleu, smooth 'exp'

}  // namespace impdist
