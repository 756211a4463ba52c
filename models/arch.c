/* DESIGN: the architecture registry (model_type → plan function) and the generic binder. A plan
 * is data (arch_table.h): slots with HF names, shapes and destination fields. Binding resolves
 * each slot to the first of its names the checkpoint holds, checks the shape from the header,
 * and only then converts data; dg_arch_check stops before conversion, which is what
 * `dragoman inspect` needs. Parameter counting follows transformers' num_parameters(): each
 * slot is one distinct tensor (tied copies are aliases of one slot), buffers are left out and
 * parameters the architecture computes instead of loading are added. */
#include "models/arch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/arch_table.h"

static const struct {
    const char *model_type;
    dg_arch_plan_fn plan;
} registry[] = {
    {"marian", dg_arch_marian_plan}, {"bart", dg_arch_bart_plan},
    {"mbart", dg_arch_mbart_plan},   {"m2m_100", dg_arch_m2m100_plan},
    {"t5", dg_arch_t5_plan},         {"mt5", dg_arch_t5_plan},
};
#define SUPPORTED "marian, bart, mbart, m2m_100, t5, mt5"

const char *dg_pos_kind_name(dg_pos_kind k)
{
    switch (k) {
    case DG_POS_SINUSOIDAL_MARIAN: return "sinusoidal";
    case DG_POS_SINUSOIDAL_FAIRSEQ: return "sinusoidal-fairseq";
    case DG_POS_LEARNED: return "learned";
    case DG_POS_RELATIVE: return "relative";
    }
    return "?";
}

dg_arch_slot *dg_plan_add(dg_arch_plan *p, int ndim, int64_t d0, int64_t d1, const float **dst,
                          const char *fmt, ...)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        dg_arch_slot *v = realloc(p->v, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        p->v = v;
        p->cap = cap;
    }
    dg_arch_slot *s = &p->v[p->n++];
    memset(s, 0, sizeof *s);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->names[0], sizeof s->names[0], fmt, ap);
    va_end(ap);
    s->ndim = ndim;
    s->shape[0] = d0;
    s->shape[1] = d1;
    s->dst[0] = dst;
    return s;
}

void dg_slot_raw(dg_arch_slot *s, const void **field, dg_dtype *dtype)
{
    for (int i = 0; i < DG_SLOT_DSTS; i++)
        if (!s->raw[i]) {
            s->raw[i] = field;
            s->raw_dtype[i] = dtype;
            return;
        }
}

void dg_slot_alias(dg_arch_slot *s, const char *name)
{
    for (int i = 1; i < DG_SLOT_NAMES; i++)
        if (!s->names[i][0]) {
            snprintf(s->names[i], sizeof s->names[i], "%s", name);
            return;
        }
}

void dg_arch_free(dg_model_weights *w)
{
    if (!w)
        return;
    free(w->enc_layers);
    free(w->dec_layers);
    memset(w, 0, sizeof *w);
}

static dg_code make_plan(const dg_config *cfg, dg_model_weights *w, dg_arch_plan *p, dg_err *err)
{
    memset(w, 0, sizeof *w);
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < sizeof registry / sizeof *registry; i++)
        if (!strcmp(cfg->model_type, registry[i].model_type))
            return registry[i].plan(cfg, w, p, err);
    return dg_err_set(err, DG_E_UNSUPPORTED, "model_type '%s' is not supported (supported: %s)",
                      cfg->model_type, SUPPORTED);
}

/* Index in CK of the slot's first present name, -1 when none is (error unless optional). */
static dg_code resolve(const dg_checkpoint *ck, const dg_arch_slot *s, int *found, dg_err *err)
{
    *found = -1;
    for (int k = 0; k < DG_SLOT_NAMES && s->names[k][0] && *found < 0; k++)
        *found = dg_checkpoint_index(ck, s->names[k]);
    if (*found < 0) {
        if (s->optional)
            return DG_OK;
        return dg_err_set(err, DG_E_MISSING, "missing tensor '%s'%s", s->names[0],
                          s->names[1][0] ? " (nor any of its tied copies)" : "");
    }
    const dg_tensor_info *in = dg_checkpoint_info(ck, *found);
    if (in->ndim != s->ndim || memcmp(in->shape, s->shape, (size_t)s->ndim * sizeof *s->shape)) {
        char want[64], got[160];
        return dg_err_set(err, DG_E_SHAPE, "tensor '%s': expected shape %s, got %s", in->name,
                          dg_shape_str(want, sizeof want, s->ndim, s->shape),
                          dg_shape_str(got, sizeof got, in->ndim, in->shape));
    }
    return DG_OK;
}

/* Resolves every slot (FOUND[i] = checkpoint index or -1) and fills the summary. */
static dg_code resolve_all(const dg_checkpoint *ck, const dg_arch_plan *p, int *found, dg_arch_summary *s,
                           unsigned char *unused, dg_err *err)
{
    memset(s, 0, sizeof *s);
    s->n_params = p->computed_params;
    for (int i = 0; i < p->n; i++) {
        dg_code rc = resolve(ck, &p->v[i], &found[i], err);
        if (rc)
            return rc;
        if (found[i] < 0)
            continue;
        long long numel = 1;
        for (int d = 0; d < p->v[i].ndim; d++)
            numel *= p->v[i].shape[d];
        s->n_bound++;
        s->n_bound_values += numel;
        if (!p->v[i].buffer)
            s->n_params += numel;
    }
    int n = dg_checkpoint_count(ck);
    for (int t = 0; t < n; t++) {
        const char *name = dg_checkpoint_info(ck, t)->name;
        int used = 0;
        for (int i = 0; i < p->n && !used; i++)
            for (int k = 0; k < DG_SLOT_NAMES && p->v[i].names[k][0] && !used; k++)
                used = !strcmp(name, p->v[i].names[k]);
        s->n_unused += !used;
        if (unused)
            unused[t] = (unsigned char)!used;
    }
    return DG_OK;
}

dg_code dg_arch_check(const dg_config *cfg, const dg_checkpoint *ck, dg_arch_summary *s,
                      unsigned char *unused, dg_err *err)
{
    dg_model_weights w;
    dg_arch_plan p;
    dg_code rc = make_plan(cfg, &w, &p, err);
    int *found = rc ? NULL : malloc((size_t)(p.n ? p.n : 1) * sizeof *found);
    if (!rc && !found)
        rc = dg_err_set(err, DG_E_NOMEM, "out of memory");
    if (!rc)
        rc = resolve_all(ck, &p, found, s, unused, err);
    if (!rc)
        s->quirks = w.quirks;
    free(found);
    free(p.v);
    dg_arch_free(&w);
    return rc;
}

dg_code dg_arch_bind(dg_model_weights *w, const dg_config *cfg, dg_checkpoint *ck, dg_err *err)
{
    dg_arch_plan p;
    dg_arch_summary s;
    dg_code rc = make_plan(cfg, w, &p, err);
    int *found = rc ? NULL : malloc((size_t)(p.n ? p.n : 1) * sizeof *found);
    if (!rc && !found)
        rc = dg_err_set(err, DG_E_NOMEM, "out of memory");
    if (!rc)
        rc = resolve_all(ck, &p, found, &s, NULL, err);
    for (int i = 0; !rc && i < p.n; i++) {
        if (found[i] < 0)
            continue;
        const dg_arch_slot *sl = &p.v[i];
        const char *name = dg_checkpoint_info(ck, found[i])->name;
        dg_dtype dt = DG_DTYPE_F32;
        const void *data = sl->raw[0] ? dg_checkpoint_data(ck, name, sl->ndim, sl->shape, &dt, err)
                                      : dg_checkpoint_f32(ck, name, sl->ndim, sl->shape, err);
        if (!data) {
            rc = err ? err->code : DG_E_INTERNAL;
            break;
        }
        for (int k = 0; k < DG_SLOT_DSTS && sl->dst[k]; k++)
            *sl->dst[k] = data;
        for (int k = 0; k < DG_SLOT_DSTS && sl->raw[k]; k++) {
            *sl->raw[k] = data;
            *sl->raw_dtype[k] = dt;
        }
    }
    free(found);
    free(p.v);
    if (rc)
        dg_arch_free(w);
    return rc;
}
