/* dg_translate: many sentences to completion through one batch (CLI, tests, benchmark).
 *
 * DESIGN. Inputs are taken longest first, so sentences decoded together have similar lengths
 * and the workspaces reach their final size early. The batch is refilled whenever sentences
 * finish (continuous batching): at most max_batch sentences are in flight, and every step runs
 * as many as are left. Results land at their input index (the tag is that index + 1). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

typedef struct {
    int len, idx;
} dg_order;

static int by_length_desc(const void *a, const void *b)
{
    const dg_order *x = a, *y = b;
    if (x->len != y->len)
        return y->len - x->len;
    return x->idx - y->idx;
}

dg_code dg_translate(dg_batch *b, const int *const *src, const int *src_len, int n,
                     const dg_search_opts *o, int max_batch, dg_result *out, dg_err *err)
{
    if (n < 0 || max_batch < 1)
        return dg_err_set(err, DG_E_INPUT, "dg_translate: n = %d, max_batch = %d", n, max_batch);
    if (dg_batch_live(b))
        return dg_err_set(err, DG_E_INPUT, "dg_translate: the batch already holds %d sentences",
                          dg_batch_live(b));
    memset(out, 0, (size_t)n * sizeof *out);
    dg_order *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order)
        return dg_err_set(err, DG_E_NOMEM, "dg_translate: out of memory");
    for (int i = 0; i < n; i++)
        order[i] = (dg_order){src_len[i], i};
    qsort(order, (size_t)n, sizeof *order, by_length_desc);
    dg_code c = DG_OK;
    int next = 0;
    while (next < n || dg_batch_live(b)) {
        while (next < n && dg_batch_live(b) < max_batch) {
            int i = order[next++].idx;
            if ((c = dg_batch_add(b, src[i], src_len[i], o, (void *)(intptr_t)(i + 1), err))) {
                dg_err_prefix(err, "sentence %d", i);
                goto fail;
            }
        }
        if ((c = dg_batch_step(b, err)))
            goto fail;
        void *tag;
        dg_result r;
        while (dg_batch_pop_finished(b, &tag, &r))
            out[(intptr_t)tag - 1] = r;
    }
    free(order);
    return DG_OK;
fail:
    /* leave the batch empty and no half-filled output behind */
    for (int i = 0; i < n; i++) {
        dg_batch_cancel(b, (void *)(intptr_t)(i + 1));
        dg_result_free(&out[i]);
    }
    free(order);
    return c;
}
