/* See hugemem.h. */
#include <stdlib.h>
#include <sys/mman.h>

#include "engine/hugemem.h"

void *dg_alloc_huge(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge) {
        size_t n = (bytes + 63) & ~(size_t)63;
        return aligned_alloc(64, n ? n : 64);
    }
    void *p = NULL; /* posix_memalign: aligned_alloc wants the size a multiple of 2 MB */
    if (posix_memalign(&p, huge, (bytes + 4095) & ~(size_t)4095))
        return NULL;
    madvise(p, bytes & ~(huge - 1), MADV_HUGEPAGE);
    return p;
}
