/* Growable float buffers for per-batch workspaces: they grow to the largest step seen (at least
 * doubling, so growth is amortized) and are then reused, which keeps malloc off the hot path. */
#include <stdlib.h>

#include "engine/forward.h"
#include "engine/hugemem.h"

float *dg_buf_get(dg_buf *b, size_t n, dg_err *err)
{
    if (n <= b->n)
        return b->p;
    size_t cap = b->n * 2 > n ? b->n * 2 : n;
    free(b->p);
    b->p = dg_alloc_huge(cap * sizeof *b->p);
    b->n = b->p ? cap : 0;
    if (!b->p)
        dg_err_set(err, DG_E_NOMEM, "workspace: out of memory for %zu floats", cap);
    return b->p;
}

void dg_buf_free(dg_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

void dg_fwd_ws_free(dg_fwd_ws *ws)
{
    dg_buf *all[] = {&ws->x, &ws->h, &ws->qkv, &ws->ctx, &ws->tmp, &ws->ffn, &ws->scores,
                     &ws->cross};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        dg_buf_free(all[i]);
}
