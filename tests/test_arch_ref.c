/* T5 (v1.0, v1.1), BART and M2M100 internals against tests/reference/arch_ref.py (a PyTorch
 * re-statement of transformers 4.40's modeling code): each variant's folder is loaded with
 * dg_model_load (config keys, architecture table, packing), its cases are encoded in one packed
 * pass and decoded teacher-forced one step at a time with the KV cache; encoder states and
 * logits must match the padded PyTorch batch. T5's relative position buckets are compared with
 * the torch function for relative positions -300..300. Each variant runs again with bf16
 * attention caches (the int8 and bfloat16 compute types' self- and cross-attention K/V) on its
 * float32 weights: the caches' only rounding (2^-9 relative per element) keeps the logits close
 * to PyTorch's, where a wrong offset or element size in the bf16 path would not. */
#include <jansson.h>
#include <stdlib.h>

#include "engine/forward.h"
#include "engine/model.h"
#include "test.h"

#ifndef DG_ARCH_REF_DIR
#define DG_ARCH_REF_DIR DG_BUILD_DIR "/arch-ref"
#endif

static void check_buckets(const char *dir)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/buckets.json", dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    CHECK_MSG(j != NULL, "%s: %s", path, je.text);
    if (!j)
        return;
    int from = (int)json_integer_value(json_object_get(j, "from")), bad = 0, n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(j, "buckets"), key, v) {
        int nb, md, bi;
        CHECK(sscanf(key, "%d_%d_%d", &nb, &md, &bi) == 3);
        for (size_t i = 0; i < json_array_size(v); i++, n++)
            bad += dg_rel_bucket(from + (int)i, bi, nb, md) != json_integer_value(json_array_get(v, i));
    }
    printf("relative buckets: %d of %d differ from torch\n", bad, n);
    CHECK(n > 3000 && bad == 0);
    json_decref(j);
}

static void check_variant(const char *root, const char *name, dg_kvtype kt)
{
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    dg_err err = {0};
    dg_model *m = dg_model_load(dir, &err);
    CHECK_MSG(m != NULL, "%s: %s", name, err.msg);
    if (!m)
        return;
    m->kvtype = kt;
    snprintf(path, sizeof path, "%s/cases.json", dir);
    json_error_t je;
    json_t *cj = json_load_file(path, 0, &je);
    size_t ne = 0;
    snprintf(path, sizeof path, "%s/expected.f32", dir);
    float *expected = test_read_f32(path, &ne);
    CHECK(cj && expected);
    if (!cj || !expected) {
        dg_model_free(m);
        return;
    }
    json_t *srcs = json_object_get(cj, "srcs"), *decs = json_object_get(cj, "decs");
    int nc = (int)json_array_size(srcs), ids[512], off[8], len[8], N = 0, D = m->D, V = m->Vt;
    void *cross[8];
    dg_kv kv[8];
    memset(kv, 0, sizeof kv);
    for (int i = 0; i < nc && i < 8; i++) {
        json_t *s = json_array_get(srcs, (size_t)i);
        off[i] = N;
        len[i] = (int)json_array_size(s);
        for (int k = 0; k < len[i]; k++)
            ids[N++] = (int)json_integer_value(json_array_get(s, (size_t)k));
        cross[i] = malloc(sizeof(float) * (size_t)len[i] * m->Ld * 2 * m->Ad);
    }
    dg_fwd_ws ws = {0};
    CHECK_INT_EQ(dg_encode(m, &ws, ids, off, len, nc, cross, &err), DG_OK);
    int Tn = (int)json_array_size(json_array_get(decs, 0));
    size_t eoff[8], o = 0;
    double ediff = 0, emax = 0;
    for (int i = 0; i < nc; i++) {
        for (int k = 0; k < len[i] * D && o + (size_t)k < ne; k++) {
            double r = expected[o + (size_t)k], d = fabs(ws.x.p[(size_t)off[i] * D + (size_t)k] - r);
            ediff = d > ediff ? d : ediff;
            emax = fabs(r) > emax ? fabs(r) : emax;
        }
        o += (size_t)len[i] * D;
        eoff[i] = o;
        o += (size_t)Tn * V;
        CHECK_INT_EQ(dg_kv_reset(&kv[i], 1, m->Ld, m->Ad, m->kvtype, &err), DG_OK);
        CHECK_INT_EQ(dg_kv_reserve(&kv[i], Tn, &err), DG_OK);
    }
    CHECK_INT_EQ(o, ne);
    float *logits = malloc(sizeof(float) * (size_t)nc * V);
    double ldiff = 0, lmax = 0;
    for (int t = 0; t < Tn && o == ne; t++) {
        dg_dec_row rows[8];
        for (int i = 0; i < nc; i++) {
            dg_kv_begin_step(&kv[i], t);
            int tok = (int)json_integer_value(json_array_get(json_array_get(decs, (size_t)i), (size_t)t));
            rows[i] = (dg_dec_row){tok, t, 0, len[i], cross[i], &kv[i], ids + off[i]};
        }
        CHECK_INT_EQ(dg_decode_step(m, &ws, rows, nc, logits, &err), DG_OK);
        for (int i = 0; i < nc; i++)
            for (int k = 0; k < V; k++) {
                double r = expected[eoff[i] + (size_t)t * V + (size_t)k];
                double d = fabs(logits[(size_t)i * V + k] - r);
                ldiff = d > ldiff ? d : ldiff;
                lmax = fabs(r) > lmax ? fabs(r) : lmax;
            }
    }
    printf("%-7s %s caches: encoder maxdiff %.3g (max %.3g), logits maxdiff %.3g (max %.3g), "
           "%d cases x %d steps\n", name, kt == DG_KV_BF16 ? "bf16" : "f32 ", ediff, emax, ldiff,
           lmax, nc, Tn);
    CHECK_MSG(emax > 0 && ediff <= 1e-5 * emax, "%s encoder", name);
    /* bf16 caches: measured 2.2 % of the largest logit on T5 (its attention scores are not
     * scaled by dh^-0.5, so a key's rounding weighs more), 0.1-0.3 % on BART and M2M100 */
    double tol = kt == DG_KV_BF16 ? 4e-2 : 1e-5;
    CHECK_MSG(lmax > 0 && ldiff <= tol * lmax, "%s logits (%s caches)", name,
              kt == DG_KV_BF16 ? "bf16" : "f32");
    for (int i = 0; i < nc; i++) {
        free(cross[i]);
        dg_kv_free(&kv[i]);
    }
    free(logits);
    free(expected);
    dg_fwd_ws_free(&ws);
    json_decref(cj);
    dg_model_free(m);
}

int main(void)
{
    const char *dir = getenv("DG_ARCH_REF_DIR") ? getenv("DG_ARCH_REF_DIR") : DG_ARCH_REF_DIR;
    check_buckets(dir);
    static const char *const variants[] = {"t5-v10", "t5-v11", "bart", "m2m100"};
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        check_variant(dir, variants[i], DG_KV_F32);
        check_variant(dir, variants[i], DG_KV_BF16);
    }
    return test_summary();
}
