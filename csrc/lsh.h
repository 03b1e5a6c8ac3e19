// MinHash-LSH near-duplicates, first wins: the keep decisions of datasketch's MinHashLSH used in
// input order as "query, verify the Jaccard estimate, insert when nothing matched", on all cores.
#pragma once
#include <cstdint>

namespace impdist {

// drop[i] = 1 when row i of the (n, num_perm) signatures (uint32 when width is 4, else uint64)
// has an earlier kept row j that shares a band (rows `rows`, bands over the first bands * rows
// columns, all values equal) and whose estimated Jaccard (equal columns / num_perm) is >=
// threshold; rows without such a match are kept.
void lsh_near_duplicates(const void* sig, int width, int64_t n, int num_perm, int bands, int rows,
                         double threshold, int threads, uint8_t* drop);

}  // namespace impdist
