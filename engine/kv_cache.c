/* Decoder self-attention cache (see kv_cache.h for the layout and the ancestry indirection). */
#include <stdlib.h>
#include <string.h>

#include "engine/hugemem.h"
#include "engine/kv_cache.h"

dg_code dg_kv_reset(dg_kv *kv, int nb, int Ld, int D, dg_kvtype type, dg_err *err)
{
    if (kv->nb != nb || kv->Ld != Ld || kv->D != D || kv->type != type) {
        /* a different geometry or element type lays rows out differently: no positions are
         * held, but the data buffer stays for the new layout's rows */
        free(kv->anc);
        free(kv->anc_tmp);
        kv->anc = kv->anc_tmp = NULL;
        kv->cap = 0;
        kv->nb = nb;
        kv->Ld = Ld;
        kv->D = D;
        kv->type = type;
    }
    return dg_kv_reserve(kv, 1, err);
}

dg_code dg_kv_reserve(dg_kv *kv, int T, dg_err *err)
{
    if (T <= kv->cap)
        return DG_OK;
    int cap = kv->cap ? kv->cap : 16;
    while (cap < T)
        cap *= 2;
    /* bytes per time step */
    size_t slab = (size_t)kv->Ld * 2 * kv->nb * kv->D * dg_kvtype_size(kv->type);
    if ((size_t)cap * slab > kv->n) {
        /* on huge pages: attention reads each row's history a time step (tens of KB) apart */
        void *data = dg_alloc_huge((size_t)cap * slab);
        if (!data)
            return dg_err_set(err, DG_E_NOMEM, "kv cache: out of memory for %d positions", cap);
        if (kv->data) /* time-major: the old steps keep their offsets */
            memcpy(data, kv->data, (size_t)kv->cap * slab);
        free(kv->data);
        kv->data = data;
        kv->n = (size_t)cap * slab;
    }
    int *anc = malloc((size_t)kv->nb * cap * sizeof *anc);
    int *tmp = malloc((size_t)kv->nb * cap * sizeof *tmp);
    if (!anc || !tmp) {
        free(anc);
        free(tmp);
        return dg_err_set(err, DG_E_NOMEM, "kv cache: out of memory for %d positions", cap);
    }
    /* ancestry rows are [nb][cap]: a new cap changes the row stride, so copy row by row */
    for (int b = 0; b < kv->nb && kv->anc; b++)
        memcpy(anc + (size_t)b * cap, kv->anc + (size_t)b * kv->cap, kv->cap * sizeof *anc);
    free(kv->anc);
    free(kv->anc_tmp);
    kv->anc = anc;
    kv->anc_tmp = tmp;
    kv->cap = cap;
    return DG_OK;
}

void dg_kv_free(dg_kv *kv)
{
    free(kv->data);
    free(kv->anc);
    free(kv->anc_tmp);
    memset(kv, 0, sizeof *kv);
}

void dg_kv_begin_step(dg_kv *kv, int t)
{
    for (int b = 0; b < kv->nb; b++)
        kv->anc[(size_t)b * kv->cap + t] = t == 0 ? 0 : b;
}

void dg_kv_reorder(dg_kv *kv, int t, const int *parent)
{
    size_t n = (size_t)(t + 1) * sizeof *kv->anc;
    for (int b = 0; b < kv->nb; b++)
        memcpy(kv->anc_tmp + (size_t)b * kv->cap, kv->anc + (size_t)parent[b] * kv->cap, n);
    int *swap = kv->anc;
    kv->anc = kv->anc_tmp;
    kv->anc_tmp = swap;
}
