// OpenMP batch loop with one workspace per thread; the only place threads are chosen.
#pragma once
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace impdist {

// threads <= 0 means OpenMP's default (all cores, or OMP_NUM_THREADS).
inline int resolve_threads(int threads) {
#ifdef _OPENMP
  return threads > 0 ? threads : omp_get_max_threads();
#else
  (void)threads;
  return 1;
#endif
}

struct NoFinish {
  template <class Work>
  void operator()(Work&) const {}
};

// Calls f(work, i) for i in [0, n), each thread with its own default-constructed Work, then
// finish(work) once per thread, one thread at a time (to merge per-thread results).
template <class Work, class F, class Finish = NoFinish>
void parallel_for_items(int64_t n, int threads, F&& f, Finish&& finish = Finish{}) {
  const int nt = resolve_threads(threads);
  if (nt <= 1 || n < 64) {
    Work w;
    for (int64_t i = 0; i < n; ++i) f(w, i);
    finish(w);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    Work w;
#pragma omp for schedule(dynamic, 64)
    for (int64_t i = 0; i < n; ++i) f(w, i);
#pragma omp critical(impdist_finish)
    finish(w);
  }
}

// Splits [0, n) into one contiguous chunk per thread and calls f(chunk, begin, end); chunks
// come out in order, for outputs that must be concatenated.
template <class F>
void parallel_chunks(int64_t n, int threads, F&& f) {
  const int nt = resolve_threads(threads);
  const int chunks = n < 1024 ? 1 : nt;
#pragma omp parallel for num_threads(nt) schedule(static, 1) if (chunks > 1)
  for (int c = 0; c < chunks; ++c) f(c, n * c / chunks, n * (c + 1) / chunks);
}

}  // namespace impdist
