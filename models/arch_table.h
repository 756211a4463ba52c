/* The contract between the generic binder (arch.c) and each architecture's table
 * (arch_marian.c, ...): an architecture lists slots, one per distinct tensor it needs, each
 * with the Hugging Face names that may hold it (tied copies are aliases of one slot), its shape
 * and the weight-struct fields that receive the data. Internal to models/. */
#ifndef DG_ARCH_TABLE_H
#define DG_ARCH_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "models/arch.h"

#define DG_SLOT_NAMES 4
#define DG_SLOT_DSTS 3

typedef struct {
    char names[DG_SLOT_NAMES][112]; /* first present name wins; unused entries empty */
    int ndim;
    int64_t shape[2];
    const float **dst[DG_SLOT_DSTS]; /* fields receiving the pointer; unused entries NULL */
    const void **raw[DG_SLOT_DSTS];  /* or fields taking the data in its stored dtype (16-bit */
    dg_dtype *raw_dtype[DG_SLOT_DSTS]; /* kept as is when contiguous), with that dtype */
    bool optional;                   /* absent → fields stay NULL (e.g. final_logits_bias) */
    bool buffer;                     /* a registered buffer, not an nn.Parameter */
} dg_arch_slot;

typedef struct {
    dg_arch_slot *v;
    int n, cap;
    long long computed_params;       /* parameters HF stores in modules but Dragoman computes */
} dg_arch_plan;

/* Appends a slot (name is a printf format); NULL when out of memory. */
dg_arch_slot *dg_plan_add(dg_arch_plan *p, int ndim, int64_t d0, int64_t d1, const float **dst,
                          const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Adds a destination field taking the slot's data in its stored dtype (see dg_linear). */
void dg_slot_raw(dg_arch_slot *s, const void **field, dg_dtype *dtype);
/* Adds an alias name to a slot. */
void dg_slot_alias(dg_arch_slot *s, const char *name);

/* Fills W's quirks, allocates its layer arrays and lists the slots of cfg's architecture. */
typedef dg_code (*dg_arch_plan_fn)(const dg_config *cfg, dg_model_weights *w, dg_arch_plan *p, dg_err *err);

dg_code dg_arch_marian_plan(const dg_config *cfg, dg_model_weights *w, dg_arch_plan *p, dg_err *err);
dg_code dg_arch_bart_plan(const dg_config *cfg, dg_model_weights *w, dg_arch_plan *p, dg_err *err);
dg_code dg_arch_mbart_plan(const dg_config *cfg, dg_model_weights *w, dg_arch_plan *p, dg_err *err);
dg_code dg_arch_m2m100_plan(const dg_config *cfg, dg_model_weights *w, dg_arch_plan *p, dg_err *err);
dg_code dg_arch_t5_plan(const dg_config *cfg, dg_model_weights *w, dg_arch_plan *p, dg_err *err);

/* Appends a slot or returns DG_E_NOMEM from the calling function (which has `err`); the new slot
 * is left in `slot`. */
#define DG_PLAN_ADD(p, nd, d0, d1, dst, ...)                                   \
    do {                                                                       \
        if (!(slot = dg_plan_add((p), (nd), (d0), (d1), (dst), __VA_ARGS__)))  \
            return dg_err_set(err, DG_E_NOMEM, "out of memory");               \
    } while (0)

/* Slots of PRE+NAME.weight [out, in] and (with bias) PRE+NAME.bias [out]. */
dg_code dg_plan_linear(dg_arch_plan *p, dg_linear *l, int64_t out, int64_t in, bool bias,
                       const char *pre, const char *name, dg_err *err);
/* Slots of PRE+NAME.weight [d] and (with bias: LayerNorm; without: RMSNorm) PRE+NAME.bias. */
dg_code dg_plan_norm(dg_arch_plan *p, dg_norm *n, int64_t d, bool bias, const char *pre,
                     const char *name, dg_err *err);
/* A BART-family layer (Marian, BART, mBART, M2M100 share the names) under PRE. */
dg_code dg_plan_bart_layer(dg_arch_plan *p, dg_layer_weights *l, bool decoder, int64_t d,
                           int64_t f, const char *pre, dg_err *err);
/* Allocates w's layer arrays for cfg's layer counts. */
dg_code dg_plan_layers_alloc(const dg_config *c, dg_model_weights *w, dg_err *err);

/* Maps config.json's activation_function; DG_E_UNSUPPORTED listing the known names otherwise. */
dg_code dg_activation_parse(const char *name, dg_activation *a, dg_err *err);

#endif
