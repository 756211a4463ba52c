/* Engine against the PyTorch reference (tests/reference/marian_ref.py, fixtures written by
 * make_fixtures.py into DG_REFERENCE_DIR, one HF checkpoint folder per variant).
 *
 * For every variant:
 *  - encoder states and raw logits, teacher-forced, of a padded reference batch: max abs diff
 *    <= 1e-4 x max|value| (our batch is packed; same numbers required);
 *  - every expected.jsonl line, greedy / beam4 / nbest4: ids exact, scores within 1e-4, each
 *    sentence decoded (a) alone, (b) with all lines and all three modes in one batch, (c) added
 *    one per step while others decode, (d) through dg_translate with a small max_batch, on a
 *    two-thread batch (the search and attention loops split over its pool);
 *    "too_long" lines must be rejected with DG_E_INPUT;
 *  - cancel leaves the other sentences' results exact; hostile inputs get specific errors. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/forward.h"
#include "engine/model.h"
#include "test.h"

#ifndef DG_REFERENCE_DIR
#define DG_REFERENCE_DIR DG_BUILD_DIR "/reference"
#endif

static const char *const variants[] = {"tied-swish", "untied-relu", "separate-vocab"};

enum { MODE_GREEDY, MODE_BEAM, MODE_NBEST, N_MODES };
static const char *const mode_name[N_MODES] = {"greedy", "beam4", "nbest4"};

typedef struct {
    int *src, n_src;
    int too_long;
    dg_search_opts o[N_MODES];
    int n_hyp[N_MODES];
    int *ids[N_MODES][4], len[N_MODES][4];
    double score[N_MODES][4];
} line_t;

static const char *ref_dir(void)
{
    const char *e = getenv("DG_REFERENCE_DIR");
    return e && *e ? e : DG_REFERENCE_DIR;
}

static float *read_f32(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *p = malloc(sz > 0 ? (size_t)sz : 1);
    *n = p ? fread(p, 1, (size_t)sz, f) / sizeof(float) : 0;
    fclose(f);
    return p;
}

static int *int_array(json_t *a, int *n)
{
    *n = (int)json_array_size(a);
    int *p = malloc(sizeof(int) * (*n ? *n : 1));
    for (int i = 0; i < *n; i++)
        p[i] = (int)json_integer_value(json_array_get(a, i));
    return p;
}

/* HF keyword arguments → options; an unknown key fails the test so none is silently ignored */
static void apply_opts(dg_search_opts *o, json_t *opts)
{
    const char *k;
    json_t *v;
    json_object_foreach(opts, k, v) {
        if (!strcmp(k, "length_penalty"))
            o->length_penalty = (float)json_number_value(v);
        else if (!strcmp(k, "repetition_penalty"))
            o->repetition_penalty = (float)json_number_value(v);
        else if (!strcmp(k, "no_repeat_ngram_size"))
            o->no_repeat_ngram_size = (int)json_integer_value(v);
        else if (!strcmp(k, "min_length"))
            o->min_length = (int)json_integer_value(v);
        else if (!strcmp(k, "max_new_tokens"))
            o->max_new_tokens = (int)json_integer_value(v);
        else if (!strcmp(k, "early_stopping"))
            o->early_stopping = json_is_string(v) ? 2 : json_is_true(v);
        else
            CHECK_MSG(0, "unknown option %s in expected.jsonl", k);
    }
}

static int load_lines(const dg_model *m, const char *dir, line_t **out)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/expected.jsonl", dir);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "%s", path);
    if (!f)
        return 0;
    int n = 0, cap = 64;
    line_t *L = calloc(cap, sizeof *L);
    char buf[1 << 16];
    while (fgets(buf, sizeof buf, f)) {
        json_error_t je;
        json_t *j = json_loads(buf, 0, &je);
        if (!j)
            continue;
        if (n == cap)
            L = realloc(L, (cap *= 2) * sizeof *L);
        line_t *l = &L[n++];
        memset(l, 0, sizeof *l);
        l->src = int_array(json_object_get(j, "src"), &l->n_src);
        l->too_long = json_object_get(j, "error") != NULL;
        for (int md = 0; md < N_MODES; md++) {
            dg_search_opts_default(&l->o[md], m);
            apply_opts(&l->o[md], json_object_get(j, "opts"));
            l->o[md].num_beams = md == MODE_GREEDY ? 1 : 4;
            l->o[md].num_return_sequences = md == MODE_NBEST ? 4 : 1;
            if (l->too_long)
                continue;
            json_t *r = json_object_get(j, mode_name[md]);
            if (md == MODE_NBEST) {
                json_t *ids = json_object_get(r, "ids"), *sc = json_object_get(r, "scores");
                l->n_hyp[md] = (int)json_array_size(ids);
                for (int h = 0; h < l->n_hyp[md] && h < 4; h++) {
                    l->ids[md][h] = int_array(json_array_get(ids, h), &l->len[md][h]);
                    l->score[md][h] = json_number_value(json_array_get(sc, h));
                }
            } else {
                l->n_hyp[md] = 1;
                l->ids[md][0] = int_array(json_object_get(r, "ids"), &l->len[md][0]);
                l->score[md][0] = json_number_value(json_object_get(r, "score"));
            }
        }
        json_decref(j);
    }
    fclose(f);
    *out = L;
    return n;
}

static void free_line(line_t *l)
{
    free(l->src);
    for (int md = 0; md < N_MODES; md++)
        for (int h = 0; h < l->n_hyp[md] && h < 4; h++)
            free(l->ids[md][h]);
}

static void free_lines(line_t *L, int n)
{
    for (int i = 0; i < n; i++)
        free_line(&L[i]);
    free(L);
}

/* 1 when r matches the expected hypotheses exactly (ids) and closely (scores) */
static int same_result(const line_t *l, int md, const dg_result *r, const char *how, int line)
{
    int ok = r->n == l->n_hyp[md];
    for (int h = 0; ok && h < r->n; h++) {
        ok = r->len[h] == l->len[md][h] &&
             !memcmp(r->ids[h], l->ids[md][h], sizeof(int) * (size_t)r->len[h]);
        double tol = 1e-4 * (fabs(l->score[md][h]) > 1 ? fabs(l->score[md][h]) : 1);
        if (ok && !(fabs(r->scores[h] - l->score[md][h]) <= tol)) {
            fprintf(stderr, "  %s line %d %s hyp %d: score %.7f, expected %.7f\n", how, line,
                    mode_name[md], h, r->scores[h], l->score[md][h]);
            ok = 0;
        }
    }
    if (!ok && r->n > 0)
        fprintf(stderr, "  %s line %d %s: got %d hyps (first len %d), expected %d (first len %d)\n",
                how, line, mode_name[md], r->n, r->len[0], l->n_hyp[md], l->len[md][0]);
    return ok;
}

/* tag = line * N_MODES + mode + 1 */
#define TAG(i, md) ((void *)(intptr_t)((i) * N_MODES + (md) + 1))

static int drain(dg_batch *b, const line_t *L, const char *how, int *n_ok)
{
    void *tag;
    dg_result r;
    int popped = 0;
    while (dg_batch_pop_finished(b, &tag, &r)) {
        int t = (int)(intptr_t)tag - 1, i = t / N_MODES, md = t % N_MODES;
        int ok = same_result(&L[i], md, &r, how, i);
        CHECK_MSG(ok, "%s: line %d %s", how, i, mode_name[md]);
        *n_ok += ok;
        dg_result_free(&r);
        popped++;
    }
    return popped;
}

static void test_decoding(const dg_model *m, const line_t *L, int n, const char *variant)
{
    dg_err err = {0};
    /* two threads: the attention and search loops run split over the batch's pool */
    dg_batch *b = dg_batch_create(m, 2, &err);
    CHECK(b != NULL);
    int valid = 0, ok_alone[N_MODES] = {0}, ok_mixed = 0, ok_mid = 0, ok_tr = 0;

    /* (a) alone; too_long rejected */
    for (int i = 0; i < n; i++) {
        if (L[i].too_long) {
            dg_code c = dg_batch_add(b, L[i].src, L[i].n_src, &L[i].o[0], NULL, &err);
            CHECK_INT_EQ(c, DG_E_INPUT);
            CHECK_CONTAINS(err.msg, "max_position_embeddings");
            CHECK_INT_EQ(dg_batch_live(b), 0);
            continue;
        }
        valid++;
        for (int md = 0; md < N_MODES; md++) {
            CHECK_INT_EQ(dg_batch_add(b, L[i].src, L[i].n_src, &L[i].o[md], TAG(i, md), &err), DG_OK);
            while (dg_batch_live(b) && dg_batch_step(b, &err) == DG_OK)
                drain(b, L, "alone", &ok_alone[md]);
        }
    }
    /* (b) every line in every mode in one batch */
    for (int i = 0; i < n; i++)
        for (int md = 0; md < N_MODES && !L[i].too_long; md++)
            CHECK_INT_EQ(dg_batch_add(b, L[i].src, L[i].n_src, &L[i].o[md], TAG(i, md), &err), DG_OK);
    while (dg_batch_live(b) && dg_batch_step(b, &err) == DG_OK)
        drain(b, L, "mixed", &ok_mixed);
    /* (c) one sentence joins per step (beam and greedy interleaved) while others decode */
    int next = 0;
    while (next < n * N_MODES || dg_batch_live(b)) {
        if (next < n * N_MODES) {
            int i = next / N_MODES, md = (next + i) % N_MODES;
            next++;
            if (!L[i].too_long)
                CHECK_INT_EQ(dg_batch_add(b, L[i].src, L[i].n_src, &L[i].o[md], TAG(i, md), &err),
                             DG_OK);
        }
        if (dg_batch_step(b, &err) != DG_OK)
            break;
        drain(b, L, "joining", &ok_mid);
    }
    CHECK_INT_EQ(dg_batch_live(b), 0);
    /* (d) dg_translate per mode, max_batch 5 (refilled as sentences finish), input order kept */
    for (int md = 0; md < N_MODES; md++) {
        const int *src[256];
        int len[256], idx[256], k = 0;
        for (int i = 0; i < n && k < 256; i++)
            if (!L[i].too_long && !memcmp(&L[i].o[md], &L[0].o[md], sizeof L[i].o[md])) {
                src[k] = L[i].src;
                len[k] = L[i].n_src;
                idx[k++] = i;
            }
        dg_result *res = calloc(k ? k : 1, sizeof *res);
        CHECK_INT_EQ(dg_translate(b, src, len, k, &L[0].o[md], 5, res, &err), DG_OK);
        for (int j = 0; j < k; j++) {
            int ok = same_result(&L[idx[j]], md, &res[j], "translate", idx[j]);
            CHECK_MSG(ok, "translate: line %d %s", idx[j], mode_name[md]);
            ok_tr += ok;
            dg_result_free(&res[j]);
        }
        free(res);
    }
    printf("%s: %d lines: alone greedy %d/%d beam4 %d/%d nbest4 %d/%d exact; mixed batch %d/%d; "
           "joining mid-decode %d/%d; translate %d ok\n", variant, valid, ok_alone[0], valid,
           ok_alone[1], valid, ok_alone[2], valid, ok_mixed, 3 * valid, ok_mid, 3 * valid, ok_tr);
    CHECK_INT_EQ(ok_mixed, 3 * valid);
    CHECK_INT_EQ(ok_mid, 3 * valid);
    dg_batch_free(b);
}

/* Cancelling one sentence leaves the others' results exact. */
static void test_cancel(const dg_model *m, const line_t *L, int n)
{
    dg_err err = {0};
    dg_batch *b = dg_batch_create(m, 1, &err);
    int ok = 0, added = 0;
    for (int i = 0; i < n && added < 6; i++)
        if (!L[i].too_long && L[i].len[MODE_BEAM][0] > 2) {
            CHECK_INT_EQ(dg_batch_add(b, L[i].src, L[i].n_src, &L[i].o[MODE_BEAM], TAG(i, MODE_BEAM), &err), DG_OK);
            added++;
        }
    if (added < 2) { /* only with DG_ENGINE_TEST_LINES: too few long lines to cancel one */
        dg_batch_free(b);
        return;
    }
    dg_batch_step(b, &err);
    void *victim = NULL;
    for (int i = 0; i < n && !victim; i++)
        if (!L[i].too_long && L[i].len[MODE_BEAM][0] > 2)
            victim = TAG(i, MODE_BEAM);
    dg_batch_cancel(b, victim);
    CHECK_INT_EQ(dg_batch_live(b), added - 1);
    while (dg_batch_live(b) && dg_batch_step(b, &err) == DG_OK)
        drain(b, L, "after cancel", &ok);
    CHECK_INT_EQ(ok, added - 1);
    dg_batch_free(b);
}

static void test_hostile(const dg_model *m)
{
    dg_err err = {0};
    dg_batch *b = dg_batch_create(m, 1, &err);
    dg_search_opts o;
    dg_search_opts_default(&o, m);
    int eos = dg_model_config(m)->eos_token_id, bad[2] = {m->Vs, eos}, neg[2] = {-1, eos};
    CHECK_INT_EQ(dg_batch_add(b, bad, 0, &o, NULL, &err), DG_E_INPUT);
    CHECK_CONTAINS(err.msg, "empty");
    CHECK_INT_EQ(dg_batch_add(b, bad, 2, &o, NULL, &err), DG_E_INPUT);
    CHECK_CONTAINS(err.msg, "outside the source vocabulary");
    CHECK_INT_EQ(dg_batch_add(b, neg, 2, &o, NULL, &err), DG_E_INPUT);
    CHECK_CONTAINS(err.msg, "token id -1");
    dg_search_opts x = o;
    x.num_beams = 2;
    x.num_return_sequences = 3;
    CHECK_INT_EQ(dg_batch_add(b, &eos, 1, &x, NULL, &err), DG_E_INPUT);
    CHECK_CONTAINS(err.msg, "num_return_sequences");
    x = o;
    x.num_beams = 0;
    CHECK_INT_EQ(dg_search_opts_check(&x, m, &err), DG_E_INPUT);
    CHECK_CONTAINS(err.msg, "num_beams");
    x = o;
    x.max_new_tokens = 0;
    CHECK_INT_EQ(dg_search_opts_check(&x, m, &err), DG_E_INPUT);
    x = o;
    x.repetition_penalty = 0;
    CHECK_INT_EQ(dg_search_opts_check(&x, m, &err), DG_E_INPUT);
    x = o;
    x.forced_bos_token_id = m->Vt;
    CHECK_INT_EQ(dg_search_opts_check(&x, m, &err), DG_E_INPUT);
    CHECK_CONTAINS(err.msg, "forced_bos_token_id");
    CHECK_INT_EQ(dg_batch_live(b), 0);
    /* a request for more tokens than positions is clamped: it ends, at the latest, at P */
    x = o;
    x.num_beams = 1;
    x.num_return_sequences = 1;
    x.max_new_tokens = 100000;
    x.min_length = 100000; /* EOS banned: the sentence runs to the limit */
    CHECK_INT_EQ(dg_batch_add(b, &eos, 1, &x, NULL, &err), DG_OK);
    int steps = 0;
    while (dg_batch_live(b) && dg_batch_step(b, &err) == DG_OK) {
        steps++;
        void *t;
        dg_result r;
        if (dg_batch_pop_finished(b, &t, &r)) {
            CHECK_INT_EQ(r.len[0], m->P);
            dg_result_free(&r);
        }
    }
    CHECK_INT_EQ(steps, m->P);
    dg_batch_free(b);
    CHECK(dg_model_load("/nonexistent-dragoman-model", &err) == NULL);
    CHECK_CONTAINS(err.msg, "/nonexistent-dragoman-model");
}

/* Encoder states and teacher-forced logits of a padded reference batch. */
static void test_forward(const dg_model *m, const char *dir, const char *variant)
{
    char path[1100];
    json_error_t je;
    snprintf(path, sizeof path, "%s/logits.json", dir);
    json_t *lj = json_load_file(path, 0, &je);
    snprintf(path, sizeof path, "%s/encoder.json", dir);
    json_t *ej = json_load_file(path, 0, &je);
    CHECK(lj && ej);
    if (!lj || !ej)
        return;
    size_t nl = 0, ne = 0;
    snprintf(path, sizeof path, "%s/logits.f32", dir);
    float *lref = read_f32(path, &nl);
    snprintf(path, sizeof path, "%s/encoder.f32", dir);
    float *eref = read_f32(path, &ne);
    json_t *cases = json_object_get(lj, "cases"), *ecases = json_object_get(ej, "cases");
    int nc = (int)json_array_size(cases), D = m->D, V = m->Vt, Ld = m->Ld;
    int *ids = malloc(sizeof(int) * 4096), off[16], len[16], *dec[16], T[16], N = 0;
    void *cross[16];
    dg_kv kv[16];
    memset(kv, 0, sizeof kv);
    for (int c = 0; c < nc && c < 16; c++) {
        json_t *cj = json_array_get(cases, c);
        int *s = int_array(json_object_get(cj, "src"), &len[c]);
        memcpy(ids + N, s, sizeof(int) * len[c]);
        free(s);
        off[c] = N;
        N += len[c];
        dec[c] = int_array(json_object_get(cj, "dec"), &T[c]);
        cross[c] = malloc(sizeof(float) * (size_t)len[c] * Ld * 2 * D);
    }
    dg_fwd_ws ws = {0};
    dg_err err = {0};
    CHECK_INT_EQ(dg_encode(m, &ws, ids, off, len, nc, cross, &err), DG_OK);
    double emax = 0, ediff = 0;
    for (int c = 0; c < nc; c++) {
        json_t *cj = json_array_get(ecases, c);
        size_t o = (size_t)json_integer_value(json_object_get(cj, "offset"));
        CHECK(o + (size_t)len[c] * D <= ne);
        for (size_t i = 0; i < (size_t)len[c] * D && o + i < ne; i++) {
            double r = eref[o + i], d = fabs(ws.x.p[(size_t)off[c] * D + i] - r);
            emax = fabs(r) > emax ? fabs(r) : emax;
            ediff = d > ediff ? d : ediff;
        }
    }
    printf("%s: encoder maxdiff %.3g (max |h| %.3g)\n", variant, ediff, emax);
    CHECK(ediff <= 1e-4 * emax);

    dg_dec_row rows[16];
    float *logits = malloc(sizeof(float) * (size_t)nc * V);
    double lmax = 0, ldiff = 0;
    int Tmax = 0;
    for (int c = 0; c < nc; c++) {
        CHECK_INT_EQ(dg_kv_reset(&kv[c], 1, Ld, D, m->kvtype, &err), DG_OK);
        Tmax = T[c] > Tmax ? T[c] : Tmax;
    }
    for (int t = 0; t < Tmax; t++) {
        int R = 0, which[16];
        for (int c = 0; c < nc; c++) {
            if (t >= T[c])
                continue;
            dg_kv_reserve(&kv[c], t + 1, &err);
            dg_kv_begin_step(&kv[c], t);
            rows[R] = (dg_dec_row){dec[c][t], t, 0, len[c], cross[c], &kv[c], NULL};
            which[R++] = c;
        }
        CHECK_INT_EQ(dg_decode_step(m, &ws, rows, R, logits, &err), DG_OK);
        for (int r = 0; r < R; r++) {
            json_t *cj = json_array_get(cases, which[r]);
            size_t o = (size_t)json_integer_value(json_object_get(cj, "offset")) + (size_t)t * V;
            CHECK_INT_EQ(json_integer_value(json_object_get(cj, "vocab")), V);
            for (int i = 0; i < V && o + i < nl; i++) {
                double ref = lref[o + i], d = fabs(logits[(size_t)r * V + i] - ref);
                lmax = fabs(ref) > lmax ? fabs(ref) : lmax;
                ldiff = d > ldiff ? d : ldiff;
            }
        }
    }
    printf("%s: logits maxdiff %.3g (max |logit| %.3g, %d cases x %d steps, vocab %d)\n", variant,
           ldiff, lmax, nc, Tmax, V);
    CHECK(lmax > 0 && ldiff <= 1e-4 * lmax);
    for (int c = 0; c < nc; c++) {
        free(dec[c]);
        free(cross[c]);
        dg_kv_free(&kv[c]);
    }
    free(logits);
    dg_fwd_ws_free(&ws);
    free(ids);
    free(lref);
    free(eref);
    json_decref(lj);
    json_decref(ej);
}

int main(void)
{
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", ref_dir(), variants[v]);
        dg_err err = {0};
        dg_model *m = dg_model_load(dir, &err);
        CHECK_MSG(m != NULL, "%s", err.msg);
        if (!m)
            continue;
        test_forward(m, dir, variants[v]);
        line_t *L = NULL;
        int n = load_lines(m, dir, &L);
        CHECK(n > 10);
        /* DG_ENGINE_TEST_LINES=k keeps the first k lines (for slow checkers such as valgrind) */
        if (getenv("DG_ENGINE_TEST_LINES") && atoi(getenv("DG_ENGINE_TEST_LINES")) > 0 &&
            atoi(getenv("DG_ENGINE_TEST_LINES")) < n) {
            int k = atoi(getenv("DG_ENGINE_TEST_LINES"));
            for (int i = k; i < n; i++)
                free_line(&L[i]);
            n = k;
        }
        if (n > 0) {
            test_decoding(m, L, n, variants[v]);
            test_cancel(m, L, n);
        }
        test_hostile(m);
        free_lines(L, n);
        dg_model_free(m);
    }
    return test_summary();
}
