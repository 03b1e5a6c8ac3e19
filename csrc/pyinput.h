// Python sequences of str -> UTF-8 views, checked once at the boundary with errors that name
// the argument and the index. The views stay valid while the Texts object lives.
#pragma once
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "lexical.h"

namespace impdist {

namespace py = pybind11;

struct Texts {
  py::object hold;                 // a tuple owning every string we point into
  std::vector<py::object> encoded; // UTF-8 copies of strings with lone surrogates
  Strs views;
  size_t size() const { return views.size(); }
};

inline std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

inline std::string_view utf8_view(py::handle item, std::vector<py::object>& encoded) {
  Py_ssize_t len = 0;
  const char* p = PyUnicode_AsUTF8AndSize(item.ptr(), &len);
  if (p) return {p, size_t(len)};
  // Lone surrogates have no UTF-8 form; encode them as CPython's "surrogatepass" does.
  PyErr_Clear();
  py::object b = py::reinterpret_steal<py::object>(PyUnicode_AsEncodedString(item.ptr(), "utf-8", "surrogatepass"));
  if (!b) throw py::error_already_set();
  encoded.push_back(b);
  return {PyBytes_AS_STRING(b.ptr()), size_t(PyBytes_GET_SIZE(b.ptr()))};
}

inline py::tuple as_tuple(py::handle obj, const std::string& name, const char* what) {
  if (PyUnicode_Check(obj.ptr()))
    throw py::type_error(name + " must be a sequence of " + what + ", got a single str");
  PyObject* t = PySequence_Tuple(obj.ptr());
  if (!t) {
    PyErr_Clear();
    throw py::type_error(name + " must be a sequence of " + what + ", got " + type_name(obj));
  }
  return py::reinterpret_steal<py::tuple>(t);
}

inline Texts texts_from(py::handle obj, const std::string& name) {
  Texts t;
  py::tuple tup = as_tuple(obj, name, "str");
  t.hold = tup;
  t.views.reserve(tup.size());
  for (size_t i = 0; i < tup.size(); ++i) {
    py::handle item = tup[i];
    if (!PyUnicode_Check(item.ptr()))
      throw py::type_error(name + "[" + std::to_string(i) + "] must be str, got " + type_name(item));
    t.views.push_back(utf8_view(item, t.encoded));
  }
  return t;
}

// References per hypothesis: each item a str (one reference) or a sequence of str.
struct RefTexts {
  std::vector<py::object> hold;
  std::vector<py::object> encoded;
  Strs views;
  std::vector<int64_t> off{0};
};

inline RefTexts refs_from(py::handle obj, const std::string& name) {
  RefTexts r;
  py::tuple tup = as_tuple(obj, name, "str or sequences of str");
  r.hold.push_back(tup);
  for (size_t i = 0; i < tup.size(); ++i) {
    py::handle item = tup[i];
    const std::string where = name + "[" + std::to_string(i) + "]";
    if (PyUnicode_Check(item.ptr())) {
      r.views.push_back(utf8_view(item, r.encoded));
    } else {
      if (!PySequence_Check(item.ptr()))
        throw py::type_error(where + " must be str, or a sequence of str, got " + type_name(item));
      py::tuple inner = as_tuple(item, where, "str");
      if (inner.size() == 0)
        throw py::value_error(where + " is empty: every hypothesis needs at least one reference");
      r.hold.push_back(inner);
      for (size_t j = 0; j < inner.size(); ++j) {
        py::handle s = inner[j];
        if (!PyUnicode_Check(s.ptr()))
          throw py::type_error(where + "[" + std::to_string(j) + "] must be str, got " + type_name(s));
        r.views.push_back(utf8_view(s, r.encoded));
      }
    }
    r.off.push_back(int64_t(r.views.size()));
  }
  return r;
}

}  // namespace impdist
