/* Every architecture against what transformers 4.40.2 generate() returned: the random-weight
 * checkpoints in shared/golden-public ({bart,mbart,t5,t5v11,m2m100,nllb}-rand), loaded as saved
 * by save_pretrained, fed each case's encoder input_ids (no tokenizer involved), decoded greedy
 * and with beam 4 (4 returned sequences, max_new_tokens 40, the checkpoint's generation config
 * otherwise) through dg_translate, i.e. the packed multi-sentence encoder, the KV caches and
 * the batched search the server uses.
 *
 * Robust cases (README there: greedy min_margin >= 0.01; beam top-1 noise-stable with a final
 * gap >= 1e-3) must match id for id; every other figure (all cases, n-best lists, scores) is
 * printed. The raw log-softmax of the first three decoder steps of cases 0-4 is compared with
 * firststeps_logprobs.npy. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/forward.h"
#include "engine/kernels.h"
#include "test.h"

#define GOLD DG_SHARED_DIR "/golden-public/"
#define MAX_NEW 40

static int *int_array(json_t *a, int *n)
{
    *n = (int)json_array_size(a);
    int *v = malloc(sizeof(int) * (size_t)(*n ? *n : 1));
    for (int i = 0; i < *n; i++)
        v[i] = (int)json_integer_value(json_array_get(a, (size_t)i));
    return v;
}

static int same_ids(json_t *want, const int *got, int n)
{
    if ((int)json_array_size(want) != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (json_integer_value(json_array_get(want, (size_t)i)) != got[i])
            return 0;
    return 1;
}

static json_t *load_cases(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/cases.jsonl", dir);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "%s", path);
    json_t *all = json_array();
    if (!f)
        return all;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *c = json_loads(line, 0, &je);
        if (c)
            json_array_append_new(all, c);
    }
    free(line);
    fclose(f);
    return all;
}

/* float32 .npy → data (header parsed for its length only; shape checked by the caller). */
static float *read_npy(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (!f)
        return NULL;
    unsigned char pre[10];
    float *v = NULL;
    if (fread(pre, 1, 10, f) == 10 && !memcmp(pre, "\x93NUMPY", 6)) {
        long hl = pre[8] | pre[9] << 8;
        fseek(f, 0, SEEK_END);
        long end = ftell(f);
        *n = (size_t)(end - 10 - hl) / sizeof(float);
        fseek(f, 10 + hl, SEEK_SET);
        v = malloc(*n * sizeof(float));
        if (fread(v, sizeof(float), *n, f) != *n) {
            free(v);
            v = NULL;
            *n = 0;
        }
    }
    fclose(f);
    return v;
}

/* First decoder steps of cases 0-4, one sentence at a time, against firststeps_logprobs.npy. */
static double check_first_steps(const dg_model *m, const char *dir, json_t *cases)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/firststeps_logprobs.npy", dir);
    size_t n = 0;
    float *ref = read_npy(path, &n);
    int V = m->Vt, Ld = m->Ld;
    CHECK_MSG(ref && n == (size_t)5 * 3 * V, "%s: %zu floats", path, n);
    if (!ref || n != (size_t)5 * 3 * V) {
        free(ref);
        return INFINITY;
    }
    dg_fwd_ws ws = {0};
    dg_err err = {0};
    float *logits = malloc(sizeof(float) * (size_t)V);
    double worst = 0;
    for (int c = 0; c < 5; c++) {
        json_t *cj = json_array_get(cases, (size_t)c);
        int S, T;
        int *src = int_array(json_object_get(cj, "input_ids"), &S);
        int *dec = int_array(json_object_get(cj, "firststeps_decoder_input_ids"), &T);
        void *cross = malloc(sizeof(float) * (size_t)S * Ld * 2 * m->Ad);
        int off = 0;
        CHECK_INT_EQ(dg_encode(m, &ws, src, &off, &S, 1, &cross, &err), DG_OK);
        dg_kv kv = {0};
        CHECK_INT_EQ(dg_kv_reset(&kv, 1, Ld, m->Ad, m->kvtype, &err), DG_OK);
        for (int t = 0; t < T && t < 3; t++) {
            dg_kv_reserve(&kv, t + 1, &err);
            dg_kv_begin_step(&kv, t);
            dg_dec_row row = {dec[t], t, 0, S, cross, &kv, src};
            CHECK_INT_EQ(dg_decode_step(m, &ws, &row, 1, logits, &err), DG_OK);
            dg_k_log_softmax(logits, V);
            const float *r = ref + ((size_t)c * 3 + t) * V;
            for (int i = 0; i < V; i++) {
                double d = fabs((double)logits[i] - r[i]);
                worst = d > worst ? d : worst;
            }
        }
        dg_kv_free(&kv);
        free(cross);
        free(src);
        free(dec);
    }
    free(logits);
    free(ref);
    dg_fwd_ws_free(&ws);
    return worst;
}

typedef struct {
    int ok, n;
} rate;

static void check_model(const char *name)
{
    char dir[512];
    snprintf(dir, sizeof dir, GOLD "%s", name);
    dg_err err = {0};
    dg_model *m = dg_model_load(dir, &err);
    CHECK_MSG(m != NULL, "%s: %s", name, err.msg);
    if (!m)
        return;
    json_t *cases = load_cases(dir);
    int n = (int)json_array_size(cases);
    CHECK_MSG(n >= 30, "%s: %d cases", name, n);

    double first = check_first_steps(m, dir, cases);
    CHECK_MSG(first <= 1e-4, "%s: first-step log-probs max diff %.3g", name, first);

    int **src = malloc(sizeof(int *) * (size_t)n), *len = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++)
        src[i] = int_array(json_object_get(json_array_get(cases, (size_t)i), "input_ids"), &len[i]);
    dg_result *g = calloc((size_t)n, sizeof *g), *b = calloc((size_t)n, sizeof *b);
    dg_batch *batch = dg_batch_create(m, 1, &err);
    CHECK(batch != NULL);
    dg_search_opts o;
    dg_search_opts_default(&o, m);
    o.max_new_tokens = MAX_NEW;
    o.length_penalty = 1.0f;
    o.num_beams = o.num_return_sequences = 1;
    CHECK_MSG(dg_translate(batch, (const int *const *)src, len, n, &o, 16, g, &err) == DG_OK, "%s: %s",
              name, err.msg);
    o.num_beams = o.num_return_sequences = 4;
    CHECK_MSG(dg_translate(batch, (const int *const *)src, len, n, &o, 16, b, &err) == DG_OK, "%s: %s",
              name, err.msg);

    rate gr = {0}, ga = {0}, br = {0}, ba = {0}, nr = {0}, na = {0};
    double gdiff = 0, bdiff = 0;
    for (int i = 0; i < n; i++) {
        json_t *c = json_array_get(cases, (size_t)i);
        json_t *gj = json_object_get(c, "greedy"), *bj = json_object_get(c, "beam");
        const char *id = json_string_value(json_object_get(c, "id"));
        json_t *mm = json_object_get(gj, "min_margin");
        int grob = json_is_null(mm) || json_number_value(mm) >= 0.01;
        int gok = g[i].n == 1 && same_ids(json_object_get(gj, "ids"), g[i].ids[0], g[i].len[0]);
        ga.n++, ga.ok += gok;
        if (grob) {
            gr.n++, gr.ok += gok;
            CHECK_MSG(gok, "%s greedy: robust case %s differs", name, id);
        }
        if (gok)
            gdiff = fmax(gdiff, fabs(g[i].scores[0] - json_number_value(json_object_get(gj, "score"))));

        json_t *bids = json_object_get(bj, "ids"), *bsc = json_object_get(bj, "scores");
        json_t *fg = json_object_get(bj, "final_gaps"), *sg = json_object_get(bj, "selection_min_gap");
        int brob = json_is_true(json_object_get(bj, "noise_stable_top1")) &&
                   (json_array_size(fg) == 0 || json_number_value(json_array_get(fg, 0)) >= 1e-3);
        int nrob = json_is_true(json_object_get(bj, "noise_stable_nbest")) &&
                   (json_is_null(sg) || !sg || json_number_value(sg) >= 1e-3);
        for (size_t k = 0; k < json_array_size(fg); k++)
            nrob = nrob && json_number_value(json_array_get(fg, k)) >= 1e-3;
        int top1 = b[i].n >= 1 && same_ids(json_array_get(bids, 0), b[i].ids[0], b[i].len[0]);
        int all = b[i].n == (int)json_array_size(bids);
        for (int k = 0; all && k < b[i].n; k++) {
            all = same_ids(json_array_get(bids, (size_t)k), b[i].ids[k], b[i].len[k]);
            if (all)
                bdiff = fmax(bdiff, fabs(b[i].scores[k] - json_number_value(json_array_get(bsc, (size_t)k))));
        }
        ba.n++, ba.ok += top1;
        na.n++, na.ok += all;
        if (brob) {
            br.n++, br.ok += top1;
            CHECK_MSG(top1, "%s beam: robust case %s top-1 differs", name, id);
        }
        if (nrob)
            nr.n++, nr.ok += all;
    }
    printf("%-12s first-step logprob maxdiff %.2g | greedy robust %d/%d all %d/%d score maxdiff %.2g | "
           "beam top-1 robust %d/%d all %d/%d | n-best robust %d/%d all %d/%d score maxdiff %.2g\n",
           name, first, gr.ok, gr.n, ga.ok, ga.n, gdiff, br.ok, br.n, ba.ok, ba.n, nr.ok, nr.n, na.ok,
           na.n, bdiff);
    CHECK_MSG(gr.n >= n / 2 && br.n >= n / 2, "%s: too few robust cases (%d, %d)", name, gr.n, br.n);
    CHECK_MSG(gdiff <= 1e-4 && bdiff <= 1e-4, "%s: score max diff %.3g / %.3g", name, gdiff, bdiff);

    for (int i = 0; i < n; i++) {
        dg_result_free(&g[i]);
        dg_result_free(&b[i]);
        free(src[i]);
    }
    free(g);
    free(b);
    free(src);
    free(len);
    dg_batch_free(batch);
    json_decref(cases);
    dg_model_free(m);
}

int main(void)
{
    static const char *const models[] = {"bart-rand", "mbart-rand", "m2m100-rand", "nllb-rand",
                                         "t5-rand", "t5v11-rand"};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        check_model(models[i]);
    return test_summary();
}
