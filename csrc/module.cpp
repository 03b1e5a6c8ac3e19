// pybind11 face of the CPU kernels: impdist.kernels._core. Thin: convert, check, release the
// GIL, call the C++ driver, return numpy arrays. impdist/kernels/ is the public API over it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "impdist/minhash.h"
#include "impdist/pair_stats.h"
#include "lexical.h"
#include "lsh.h"
#include "minhash.h"
#include "numbers.h"
#include "overlap.h"
#include "parallel.h"
#include "pyinput.h"
#include "self_bleu.h"
#include "text/porter.h"

namespace py = pybind11;
using namespace impdist;

namespace impdist {
bool cpu_has_sha_ni();
}

namespace {

template <class T>
py::array_t<T> vec_to_array(const std::vector<T>& v) {
  py::array_t<T> a(py::ssize_t(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

void check_same_length(size_t a, size_t b, const char* an, const char* bn) {
  if (a != b)
    throw py::value_error(std::string(an) + " and " + bn + " must have the same length, got " +
                          std::to_string(a) + " and " + std::to_string(b));
}

py::tuple rouge_stats_py(py::handle cands, py::handle refs, const std::vector<int32_t>& orders, bool stem,
                         int threads) {
  Texts c = texts_from(cands, "cands"), r = texts_from(refs, "refs");
  check_same_length(c.size(), r.size(), "cands", "refs");
  for (int32_t o : orders)
    if (o < 0 || o > 16) throw py::value_error("ROUGE order must be 0 (L) or 1..16, got " + std::to_string(o));
  py::array_t<int64_t> out({py::ssize_t(c.size()), py::ssize_t(orders.size()), py::ssize_t(3)});
  int64_t* o = out.mutable_data();
  int64_t dropped;
  {
    py::gil_scoped_release nogil;
    dropped = rouge_stats(c.views, r.views, orders, stem, threads, o);
  }
  return py::make_tuple(out, dropped);
}

py::array_t<double> rouge_scores_py(py::array_t<int64_t, py::array::c_style | py::array::forcecast> stats, int order) {
  if (stats.ndim() != 2 || stats.shape(1) != 3) throw py::value_error("stats must have shape (n, 3)");
  py::array_t<double> out({stats.shape(0), py::ssize_t(3)});
  rouge_scores(stats.data(), stats.shape(0), order, out.mutable_data());
  return out;
}

py::array_t<int64_t> bleu_stats_py(py::handle hyps, py::handle refs, int threads) {
  Texts h = texts_from(hyps, "hyps");
  RefTexts r = refs_from(refs, "refs");
  check_same_length(h.size(), r.off.size() - 1, "hyps", "refs");
  py::array_t<int64_t> out({py::ssize_t(h.size()), py::ssize_t(kBleuStatsWidth)});
  int64_t* o = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    bleu_stats(h.views, r.views, r.off, threads, o);
  }
  return out;
}

py::array_t<double> bleu_scores_py(py::array_t<int64_t, py::array::c_style | py::array::forcecast> stats,
                                   bool effective_order) {
  if (stats.ndim() != 2 || stats.shape(1) != kBleuStatsWidth)
    throw py::value_error("stats must have shape (n, " + std::to_string(kBleuStatsWidth) + ")");
  py::array_t<double> out(stats.shape(0));
  double* o = out.mutable_data();
  for (py::ssize_t i = 0; i < stats.shape(0); ++i) o[i] = bleu_score(stats.data() + i * kBleuStatsWidth, effective_order);
  return out;
}

py::dict tokenized_to_dict(const TokenizedBatch& b) {
  py::dict d;
  d["ids"] = vec_to_array(b.ids);
  d["seg_off"] = vec_to_array(b.seg_off);
  d["item_seg"] = vec_to_array(b.item_seg);
  d["d0"] = vec_to_array(b.d0);
  d["swapped"] = vec_to_array(b.swapped);
  return d;
}

py::tuple tokenize_rouge_batch_py(py::handle cands, py::handle refs, bool stem, int threads) {
  Texts c = texts_from(cands, "cands"), r = texts_from(refs, "refs");
  check_same_length(c.size(), r.size(), "cands", "refs");
  TokenizedBatch b;
  int64_t dropped = 0;
  {
    py::gil_scoped_release nogil;
    b = tokenize_rouge_batch(c.views, r.views, stem, threads, &dropped);
  }
  return py::make_tuple(tokenized_to_dict(b), dropped);
}

py::dict tokenize_bleu_batch_py(py::handle hyps, py::handle refs, int threads) {
  Texts h = texts_from(hyps, "hyps");
  RefTexts r = refs_from(refs, "refs");
  check_same_length(h.size(), r.off.size() - 1, "hyps", "refs");
  TokenizedBatch b;
  {
    py::gil_scoped_release nogil;
    b = tokenize_bleu_batch(h.views, r.views, r.off, threads);
  }
  return tokenized_to_dict(b);
}

py::array_t<double> self_bleu_py(py::handle sents, int max_n, int threads) {
  Texts s = texts_from(sents, "sents");
  py::array_t<double> out(py::ssize_t(s.size()));
  double* o = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    self_bleu(s.views, max_n, threads, o);
  }
  return out;
}

double distinct_n_py(py::handle sents, int n, int threads) {
  Texts s = texts_from(sents, "sents");
  py::gil_scoped_release nogil;
  return distinct_n(s.views, n, threads);
}

py::array_t<double> ngram_jaccard_py(py::handle a, py::handle b, int n, int threads) {
  Texts ta = texts_from(a, "a"), tb = texts_from(b, "b");
  check_same_length(ta.size(), tb.size(), "a", "b");
  py::array_t<double> out(py::ssize_t(ta.size()));
  double* o = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    ngram_jaccard(ta.views, tb.views, n, threads, o);
  }
  return out;
}

py::array minhash_py(py::handle texts, int k, py::array_t<uint64_t, py::array::c_style | py::array::forcecast> a,
                     py::array_t<uint64_t, py::array::c_style | py::array::forcecast> b, int scheme, int threads) {
  Texts t = texts_from(texts, "texts");
  if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0))
    throw py::value_error("permutation parameters a and b must be 1-D of equal length");
  const int P = int(a.shape(0));
  const py::ssize_t n = py::ssize_t(t.size());
  py::array out = scheme == kAffine32 ? py::array(py::array_t<uint32_t>({n, py::ssize_t(P)}))
                                      : py::array(py::array_t<uint64_t>({n, py::ssize_t(P)}));
  void* o = out.mutable_data();
  const uint64_t* pa = a.data();
  const uint64_t* pb = b.data();
  {
    py::gil_scoped_release nogil;
    minhash(t.views, k, pa, pb, P, scheme, threads, o);
  }
  return out;
}

py::array_t<bool> lsh_near_duplicates_py(py::array sig, int bands, int rows, double threshold, int threads) {
  const bool u32 = py::isinstance<py::array_t<uint32_t>>(sig), u64 = py::isinstance<py::array_t<uint64_t>>(sig);
  if (!(u32 || u64) || sig.ndim() != 2 || !(sig.flags() & py::array::c_style))
    throw py::type_error("signatures must be a C-contiguous 2-D uint32 or uint64 array");
  const int64_t n = sig.shape(0);
  const int P = int(sig.shape(1));
  if (n >= (int64_t(1) << 32)) throw py::value_error("signatures must have fewer than 2**32 rows");
  if (bands < 1 || rows < 1 || int64_t(bands) * rows > P)
    throw py::value_error("bands and rows must be >= 1 with bands * rows <= num_perm (" + std::to_string(P) + "), got " +
                          std::to_string(bands) + " and " + std::to_string(rows));
  py::array_t<bool> out(n);
  static_assert(sizeof(bool) == 1, "numpy bools are bytes");
  auto* o = reinterpret_cast<uint8_t*>(out.mutable_data());
  const void* p = sig.data();
  const int width = u32 ? 4 : 8;
  {
    py::gil_scoped_release nogil;
    lsh_near_duplicates(p, width, n, P, bands, rows, threshold, threads, o);
  }
  return out;
}

py::dict shingle_batch_py(py::handle texts, int k) {
  Texts t = texts_from(texts, "texts");
  std::vector<uint8_t> bytes;
  std::vector<int64_t> text_off{0};
  for (auto v : t.views) {
    bytes.insert(bytes.end(), v.begin(), v.end());
    text_off.push_back(int64_t(bytes.size()));
  }
  ShingledBatch s = shingle_batch(t.views, k);
  py::dict d;
  d["bytes"] = vec_to_array(bytes);
  d["text_off"] = vec_to_array(text_off);
  d["shingle_off"] = vec_to_array(s.shingle_off);
  d["begin"] = vec_to_array(s.begin);
  d["len"] = vec_to_array(s.len);
  return d;
}

py::tuple scan_numbers_py(py::handle texts, int threads) {
  Texts t = texts_from(texts, "texts");
  std::vector<NumberScan> scans;
  {
    py::gil_scoped_release nogil;
    scan_numbers(t.views, threads, scans);
  }
  py::array_t<bool> scanned(py::ssize_t(scans.size()));
  bool* s = scanned.mutable_data();
  py::list numerals(scans.size()), spans(scans.size());
  const py::tuple none;
  for (size_t i = 0; i < scans.size(); ++i) {
    s[i] = scans[i].scanned;
    numerals[i] = scans[i].numerals.empty() ? none : py::tuple(py::cast(scans[i].numerals));
    spans[i] = scans[i].word_spans.empty() ? none : py::tuple(py::cast(scans[i].word_spans));
  }
  return py::make_tuple(scanned, numerals, spans);
}

std::vector<std::string> porter_stem_py(py::handle words) {
  Texts t = texts_from(words, "words");
  std::vector<std::string> out;
  out.reserve(t.size());
  std::string buf;
  for (auto w : t.views) {
    buf.resize(w.size() + 8);
    buf.resize(text::porter_stem(w.data(), w.size(), &buf[0]));
    out.push_back(buf);
  }
  return out;
}

py::array_t<uint32_t> sha1_py(const std::vector<py::bytes>& data, bool allow_sha_ni) {
  py::array_t<uint32_t> out({py::ssize_t(data.size()), py::ssize_t(5)});
  uint32_t* o = out.mutable_data();
  for (size_t i = 0; i < data.size(); ++i) {
    char* p;
    Py_ssize_t len;
    PyBytes_AsStringAndSize(data[i].ptr(), &p, &len);
    sha1_cpu(reinterpret_cast<const uint8_t*>(p), len, o + 5 * i, allow_sha_ni);
  }
  return out;
}

py::dict build_info() {
  py::dict d;
#ifdef _OPENMP
  d["openmp"] = true;
  d["max_threads"] = resolve_threads(0);
#else
  d["openmp"] = false;
  d["max_threads"] = 1;
#endif
  d["sha_ni"] = cpu_has_sha_ni();
#ifdef IMPDIST_ASAN
  d["asan"] = true;
#else
  d["asan"] = false;
#endif
  return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "impdist CPU kernels (use impdist.kernels, not this module)";
  m.attr("BLEU_STATS_WIDTH") = kBleuStatsWidth;
  m.attr("BLEU_MAX_ORDER") = kBleuMaxOrder;
  m.def("rouge_stats", &rouge_stats_py, py::arg("cands"), py::arg("refs"), py::arg("orders"), py::arg("stem"),
        py::arg("threads"));
  m.def("rouge_scores", &rouge_scores_py, py::arg("stats"), py::arg("order"));
  m.def("bleu_stats", &bleu_stats_py, py::arg("hyps"), py::arg("refs"), py::arg("threads"));
  m.def("bleu_scores", &bleu_scores_py, py::arg("stats"), py::arg("effective_order"));
  m.def("tokenize_rouge_batch", &tokenize_rouge_batch_py, py::arg("cands"), py::arg("refs"), py::arg("stem"),
        py::arg("threads"));
  m.def("tokenize_bleu_batch", &tokenize_bleu_batch_py, py::arg("hyps"), py::arg("refs"), py::arg("threads"));
  m.def("self_bleu", &self_bleu_py, py::arg("sents"), py::arg("max_n"), py::arg("threads"));
  m.def("distinct_n", &distinct_n_py, py::arg("sents"), py::arg("n"), py::arg("threads"));
  m.def("ngram_jaccard", &ngram_jaccard_py, py::arg("a"), py::arg("b"), py::arg("n"), py::arg("threads"));
  m.def("minhash", &minhash_py, py::arg("texts"), py::arg("k"), py::arg("a"), py::arg("b"), py::arg("scheme"),
        py::arg("threads"));
  m.def("lsh_near_duplicates", &lsh_near_duplicates_py, py::arg("signatures"), py::arg("bands"), py::arg("rows"),
        py::arg("threshold"), py::arg("threads"));
  m.def("shingle_batch", &shingle_batch_py, py::arg("texts"), py::arg("k"));
  m.def("scan_numbers", &scan_numbers_py, py::arg("texts"), py::arg("threads"));
  m.def("porter_stem", &porter_stem_py, py::arg("words"));
  m.def("sha1", &sha1_py, py::arg("data"), py::arg("allow_sha_ni") = true);
  m.def("build_info", &build_info);
}
