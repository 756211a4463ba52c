/* Large buffers on 2 MB pages where the kernel allows transparent huge pages (madvise mode).
 *
 * DESIGN. The packed weights, the KV caches and the batch workspaces (the logits alone are
 * R x Vt floats, 16 MB at 128 rows x 32k) are read in patterns that touch many pages per step;
 * with 4 KB pages they overflow the TLB. Only whole 2 MB pages inside the buffer are advised:
 * a huge page over the tail would hold up to 2 MB that nothing uses. */
#ifndef DG_HUGEMEM_H
#define DG_HUGEMEM_H

#include <stddef.h>

/* bytes of 64-byte aligned memory (2 MB aligned from 2 MB on); release with free(). NULL when
 * out of memory. */
void *dg_alloc_huge(size_t bytes);

#endif
