// pybind11 face of the CUDA kernels: impdist.kernels._cuda. Thin: check the batch dicts that
// impdist.kernels._core builds (tokenize_rouge_batch, tokenize_bleu_batch, shingle_batch),
// release the GIL, call the launchers of kernels.cu, return numpy arrays shaped as _core's.
//
// The checks are what the device code relies on to stay inside its buffers (offsets in range,
// segment-0 ids below d0, shingles inside their text): a malformed dict must become a Python
// error here, never an out-of-bounds access on the GPU.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "impdist/minhash.h"
#include "impdist/pair_stats.h"
#include "kernels.h"

namespace py = pybind11;
using namespace impdist;

namespace {

// Longest segment the per-item functions take: lcs_length counts in int32, and
// ngram_table_size needs 2 * length to fit a uint32.
constexpr int64_t kMaxSegment = int64_t(1) << 30;

template <class T>
using CArray = py::array_t<T, py::array::c_style>;

std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t k = 0; k < a.ndim(); ++k) s += (k ? ", " : "") + std::to_string(a.shape(k));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// d[key] as a 1-D C-contiguous array of exactly dtype T.
template <class T>
CArray<T> field(const py::dict& d, const std::string& where, const char* key, const char* producer) {
  const std::string name = where + "['" + key + "']";
  if (!d.contains(key))
    throw py::value_error(where + " has no key '" + key + "': pass the dict " + producer + " returns");
  py::object o = d[key];
  if (!py::isinstance<py::array>(o))
    throw py::type_error(name + " must be a numpy array, got " +
                         std::string(py::str(py::type::handle_of(o).attr("__name__"))));
  py::array a = py::reinterpret_borrow<py::array>(o);
  if (!a.dtype().equal(py::dtype::of<T>()))
    throw py::type_error(name + " must have dtype " + std::string(py::str(py::dtype::of<T>())) + ", got " +
                         std::string(py::str(a.dtype())));
  if (a.ndim() != 1) throw py::value_error(name + " must be 1-D, got shape " + shape_of(a));
  CArray<T> c = CArray<T>::ensure(a);  // copies only a strided view
  if (!c) throw py::error_already_set();
  return c;
}

// off must run 0 = off[0] <= off[1] <= ... <= off[last] = end.
void check_offsets(const int64_t* off, int64_t size, int64_t end, const std::string& name,
                   const std::string& end_what) {
  if (size < 1) throw py::value_error(name + " must have at least one entry (it starts with 0)");
  if (off[0] != 0) throw py::value_error(name + "[0] must be 0, got " + std::to_string(off[0]));
  for (int64_t k = 1; k < size; ++k)
    if (off[k] < off[k - 1])
      throw py::value_error(name + " must be non-decreasing, but entry " + std::to_string(k) + " is " +
                            std::to_string(off[k]) + " after " + std::to_string(off[k - 1]));
  if (off[size - 1] != end)
    throw py::value_error(name + " must end at " + end_what + " = " + std::to_string(end) + ", got " +
                          std::to_string(off[size - 1]));
}

void check_size(int64_t got, int64_t want, const std::string& name, const std::string& why) {
  if (got != want)
    throw py::value_error(name + " must have " + std::to_string(want) + " entries (" + why + "), got " +
                          std::to_string(got));
}

// A TokenizedBatch dict, checked, with the arrays kept alive for the view.
struct Tokenized {
  CArray<uint32_t> ids, d0;
  CArray<int64_t> seg_off, item_seg;
  CArray<uint8_t> swapped;
  gpu::TokenizedView view{};
};

Tokenized tokenized_from(const py::dict& d, bool rouge) {
  const char* producer = rouge ? "impdist.kernels._core.tokenize_rouge_batch" : "impdist.kernels._core.tokenize_bleu_batch";
  const std::string where = "batch";
  Tokenized t;
  t.ids = field<uint32_t>(d, where, "ids", producer);
  t.seg_off = field<int64_t>(d, where, "seg_off", producer);
  t.item_seg = field<int64_t>(d, where, "item_seg", producer);
  t.d0 = field<uint32_t>(d, where, "d0", producer);
  if (rouge) t.swapped = field<uint8_t>(d, where, "swapped", producer);

  const int64_t n = t.d0.shape(0), n_ids = t.ids.shape(0), n_seg_off = t.seg_off.shape(0);
  check_size(t.item_seg.shape(0), n + 1, "batch['item_seg']", "one more than batch['d0'], one per item");
  if (rouge) check_size(t.swapped.shape(0), n, "batch['swapped']", "as many as batch['d0'], one per item");
  const int64_t* seg_off = t.seg_off.data();
  const int64_t* item_seg = t.item_seg.data();
  const uint32_t* ids = t.ids.data();
  const uint32_t* d0 = t.d0.data();
  check_offsets(seg_off, n_seg_off, n_ids, "batch['seg_off']", "len(batch['ids'])");
  check_offsets(item_seg, n + 1, n_seg_off - 1, "batch['item_seg']", "the number of segments");

  for (int64_t i = 0; i < n; ++i) {
    const std::string item = "batch item " + std::to_string(i);
    const int64_t s = item_seg[i], nseg = item_seg[i + 1] - s;
    if (rouge && nseg != 2)
      throw py::value_error(item + " has " + std::to_string(nseg) + " segments; ROUGE items have 2");
    if (!rouge && nseg < 1) throw py::value_error(item + " has no segments; BLEU items have 1 + references");
    for (int64_t k = 0; k < nseg; ++k)
      if (seg_off[s + k + 1] - seg_off[s + k] >= kMaxSegment)
        throw py::value_error(item + " has a segment of " + std::to_string(seg_off[s + k + 1] - seg_off[s + k]) +
                              " tokens; the limit is " + std::to_string(kMaxSegment - 1));
    const int64_t lo = seg_off[s], hi = seg_off[s + 1];
    if (int64_t(d0[i]) > hi - lo)
      throw py::value_error(item + ": d0 = " + std::to_string(d0[i]) + " exceeds its first segment's " +
                            std::to_string(hi - lo) + " tokens");
    for (int64_t k = lo; k < hi; ++k)
      if (ids[k] >= d0[i])
        throw py::value_error(item + ": first-segment id " + std::to_string(ids[k]) + " at batch['ids'][" +
                              std::to_string(k) + "] is not below d0 = " + std::to_string(d0[i]));
  }
  t.view = gpu::TokenizedView{ids, n_ids, seg_off, n_seg_off - 1, item_seg, d0,
                              rouge ? t.swapped.data() : nullptr, n};
  return t;
}

py::array_t<int64_t> rouge_stats_py(const py::dict& batch, int order) {
  if (order < 0 || order > 16)
    throw py::value_error("order must be 0 (ROUGE-L) or 1..16 (ROUGE-N), got " + std::to_string(order));
  Tokenized t = tokenized_from(batch, true);
  py::array_t<int64_t> out({py::ssize_t(t.view.n_items), py::ssize_t(3)});
  int64_t* o = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    gpu::rouge_stats(t.view, order, o);
  }
  return out;
}

py::array_t<int64_t> bleu_stats_py(const py::dict& batch) {
  Tokenized t = tokenized_from(batch, false);
  py::array_t<int64_t> out({py::ssize_t(t.view.n_items), py::ssize_t(kBleuStatsWidth)});
  int64_t* o = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    gpu::bleu_stats(t.view, o);
  }
  return out;
}

py::array minhash_py(const py::dict& shingled, py::array_t<uint64_t, py::array::c_style | py::array::forcecast> a,
                     py::array_t<uint64_t, py::array::c_style | py::array::forcecast> b, int scheme) {
  if (scheme != kLegacy && scheme != kAffine32 && scheme != kAffine64)
    throw py::value_error("scheme must be 0 (legacy), 1 (affine32) or 2 (affine64), got " + std::to_string(scheme));
  if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0))
    throw py::value_error("permutation parameters a and b must be 1-D of equal length");
  if (a.shape(0) > (1 << 16)) throw py::value_error("at most 65536 permutations, got " + std::to_string(a.shape(0)));
  const char* producer = "impdist.kernels._core.shingle_batch";
  const std::string where = "shingled";
  auto bytes = field<uint8_t>(shingled, where, "bytes", producer);
  auto text_off = field<int64_t>(shingled, where, "text_off", producer);
  auto shingle_off = field<int64_t>(shingled, where, "shingle_off", producer);
  auto begin = field<int64_t>(shingled, where, "begin", producer);
  auto len = field<int64_t>(shingled, where, "len", producer);

  const int64_t n = text_off.shape(0) - 1, S = begin.shape(0);
  check_offsets(text_off.data(), text_off.shape(0), bytes.shape(0), "shingled['text_off']", "len(shingled['bytes'])");
  check_size(shingle_off.shape(0), n + 1, "shingled['shingle_off']", "as many as shingled['text_off'], one more than texts");
  check_size(len.shape(0), S, "shingled['len']", "as many as shingled['begin'], one per shingle");
  check_offsets(shingle_off.data(), n + 1, S, "shingled['shingle_off']", "len(shingled['begin'])");
  const int64_t *to = text_off.data(), *so = shingle_off.data(), *bg = begin.data(), *ln = len.data();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t text_len = to[i + 1] - to[i];
    for (int64_t s = so[i]; s < so[i + 1]; ++s)
      if (bg[s] < 0 || ln[s] < 0 || bg[s] > text_len || ln[s] > text_len - bg[s])
        throw py::value_error("shingle " + std::to_string(s) + " (begin " + std::to_string(bg[s]) + ", len " +
                              std::to_string(ln[s]) + ") lies outside text " + std::to_string(i) + " of " +
                              std::to_string(text_len) + " bytes");
  }

  const int P = int(a.shape(0));
  py::array out = scheme == kAffine32 ? py::array(py::array_t<uint32_t>({py::ssize_t(n), py::ssize_t(P)}))
                                      : py::array(py::array_t<uint64_t>({py::ssize_t(n), py::ssize_t(P)}));
  const gpu::ShingledView view{bytes.data(), bytes.shape(0), to, so, bg, ln, S, n};
  void* o = out.mutable_data();
  const uint64_t* pa = a.data();
  const uint64_t* pb = b.data();
  {
    py::gil_scoped_release nogil;
    gpu::minhash(view, pa, pb, P, scheme, o);
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "impdist CUDA kernels (use impdist.kernels with device='cuda', not this module)";
  m.attr("BLEU_STATS_WIDTH") = kBleuStatsWidth;
  m.def("device_count", &gpu::device_count, "Visible CUDA devices; 0 when there is no driver or GPU.");
  m.def("rouge_stats", &rouge_stats_py, py::arg("batch"), py::arg("order"),
        "ROUGE stats rows (n, 3) from the dict of _core.tokenize_rouge_batch; order 0 = ROUGE-L.");
  m.def("bleu_stats", &bleu_stats_py, py::arg("batch"),
        "BLEU stats rows (n, BLEU_STATS_WIDTH) from the dict of _core.tokenize_bleu_batch.");
  m.def("minhash", &minhash_py, py::arg("shingled"), py::arg("a"), py::arg("b"), py::arg("scheme"),
        "MinHash signatures (n, len(a)) from the dict of _core.shingle_batch: uint32 for scheme 1, else uint64.");
}
