/* DESIGN: `dragoman translate`: one input per stdin line → translations on stdout, through the
 * same tokenizer and engine the server uses. All lines are read and tokenized first (a bad line
 * fails the run before any compute, naming its line number), then translated with dg_translate,
 * which sorts by length and batches; results come back in input order.
 *
 * Output: `text` prints the n-best hypotheses of each input, one per line (n lines per input);
 * `jsonl` prints per input {"text": [...], "ids": [[...]], "scores": [...]} with lists of length
 * n-best. ids are the generated target ids (no decoder start token, EOS included when
 * generated); scores follow Hugging Face's sequences_scores convention. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "server/commands.h"
#include "server/default_model.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    const char *model_dir;
    int beam_size, n_best, max_new_tokens, min_new_tokens, batch_size, threads;
    float length_penalty;
    int have_beam, have_max_new, have_lp;
    dg_model_opts load;
    int jsonl, input_ids;
} translate_args;

typedef struct {
    int **ids;
    int *len;
    int n, cap;
} line_set;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dragoman translate [--model DIR] [options] < input\n"
            "One input per line; translations on stdout in input order.\n"
            "  --model DIR            Hugging Face checkpoint folder (weights + tokenizer);\n"
            "                         default: the bundled demo model (English to German)\n"
            "  --beam-size N          beams (default: the model's num_beams; 1 = greedy)\n"
            "  --n-best K             hypotheses per input (default 1, at most the beam size)\n"
            "  --max-new-tokens N     generated tokens at most (default: from the model)\n"
            "  --min-new-tokens N     generated tokens at least, EOS excluded (HF min_new_tokens)\n"
            "  --length-penalty F     Hugging Face length_penalty (default: from the model)\n"
            "  --batch-size N         sentences decoded together (default 32)\n"
            "  --threads N            compute threads (default 1)\n"
            "  --compute-type T       auto|float32|int8|bfloat16: weight storage and arithmetic\n"
            "                         (default auto = float32)\n"
            "  --format text|jsonl    text: n-best lines per input; jsonl: one JSON object per input\n"
            "  --input-ids            lines are space-separated source ids, the exact encoder input\n");
}

/* Strict integer parsing: the whole argument must be a number in [lo, hi]. */
static int parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "dragoman translate: %s expects an integer in [%d, %d], got '%s'\n", opt,
                lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, translate_args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},       {"beam-size", required_argument, 0, 'b'},
        {"n-best", required_argument, 0, 'n'},      {"max-new-tokens", required_argument, 0, 'x'},
        {"length-penalty", required_argument, 0, 'l'}, {"batch-size", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},     {"format", required_argument, 0, 'f'},
        {"input-ids", no_argument, 0, 'i'},         {"help", no_argument, 0, 'h'},
        {"min-new-tokens", required_argument, 0, 'y'}, {"compute-type", required_argument, 0, 'c'},
        {0, 0, 0, 0}};
    *a = (translate_args){.n_best = 1, .batch_size = 32, .threads = 1};
    dg_model_opts_default(&a->load);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': a->model_dir = optarg; break;
        case 'b':
            if (parse_int("--beam-size", optarg, 1, 64, &a->beam_size)) return -1;
            a->have_beam = 1;
            break;
        case 'n':
            if (parse_int("--n-best", optarg, 1, 64, &a->n_best)) return -1;
            break;
        case 'x':
            if (parse_int("--max-new-tokens", optarg, 1, 1 << 20, &a->max_new_tokens)) return -1;
            a->have_max_new = 1;
            break;
        case 'y':
            if (parse_int("--min-new-tokens", optarg, 0, 1 << 20, &a->min_new_tokens)) return -1;
            break;
        case 'c': {
            int t = dg_compute_type_parse(optarg);
            if (t < 0) {
                fprintf(stderr, "dragoman translate: --compute-type is auto, float32, int8 or "
                        "bfloat16, got '%s'\n", optarg);
                return -1;
            }
            a->load.compute_type = (dg_compute_type)t;
            break;
        }
        case 'l': {
            char *end;
            a->length_penalty = strtof(optarg, &end);
            if (!*optarg || *end) {
                fprintf(stderr, "dragoman translate: --length-penalty expects a number, got '%s'\n",
                        optarg);
                return -1;
            }
            a->have_lp = 1;
            break;
        }
        case 's':
            if (parse_int("--batch-size", optarg, 1, 4096, &a->batch_size)) return -1;
            break;
        case 't':
            if (parse_int("--threads", optarg, 1, 256, &a->threads)) return -1;
            break;
        case 'f':
            if (!strcmp(optarg, "jsonl"))
                a->jsonl = 1;
            else if (strcmp(optarg, "text")) {
                fprintf(stderr, "dragoman translate: --format is text or jsonl, got '%s'\n", optarg);
                return -1;
            }
            break;
        case 'i': a->input_ids = 1; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dragoman translate: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!a->model_dir)
        a->model_dir = dg_default_model_dir();
    return 0;
}

static int line_set_push(line_set *s, int *ids, int n)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        int **ids2 = realloc(s->ids, cap * sizeof *ids2);
        if (!ids2) return -1;
        s->ids = ids2;
        int *len2 = realloc(s->len, cap * sizeof *len2);
        if (!len2) return -1;
        s->len = len2;
        s->cap = cap;
    }
    s->ids[s->n] = ids;
    s->len[s->n] = n;
    s->n++;
    return 0;
}

static void line_set_free(line_set *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->ids[i]);
    free(s->ids);
    free(s->len);
}

/* "12 5 0" → ids; anything but non-negative integers separated by blanks is an error. */
static dg_code parse_id_line(const char *line, int **ids, int *n, dg_err *err)
{
    int cap = 16, k = 0;
    int *v = malloc(cap * sizeof *v);
    if (!v) return dg_err_set(err, DG_E_NOMEM, "out of memory");
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x > 0x7fffffff || (*end && *end != ' ' && *end != '\t')) {
            free(v);
            return dg_err_set(err, DG_E_INPUT, "expected space-separated token ids at column %d",
                              (int)(p - line) + 1);
        }
        if (k == cap) {
            int *v2 = realloc(v, 2 * cap * sizeof *v);
            if (!v2) {
                free(v);
                return dg_err_set(err, DG_E_NOMEM, "out of memory");
            }
            v = v2;
            cap *= 2;
        }
        v[k++] = (int)x;
        p = end;
    }
    *ids = v;
    *n = k;
    return DG_OK;
}

static int read_inputs(const translate_args *a, const dg_tokenizer *tok, const dg_config *cfg,
                       line_set *lines)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (!rc && (len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = 0;
        if (len > 0 && line[len - 1] == '\r') line[--len] = 0;
        dg_err err = {0};
        int *ids = NULL, n = 0;
        dg_code code = a->input_ids ? parse_id_line(line, &ids, &n, &err)
                                    : dg_tokenizer_encode(tok, DG_SIDE_SOURCE, line, (size_t)len,
                                                          &ids, &n, &err);
        /* checked here so the message names the line; the engine re-checks on its own */
        if (code == DG_OK && n > cfg->max_position_embeddings)
            code = dg_err_set(&err, DG_E_INPUT,
                              "%d tokens, the model accepts at most %d (max_position_embeddings)",
                              n, cfg->max_position_embeddings);
        for (int k = 0; code == DG_OK && k < n; k++)
            if (ids[k] >= cfg->vocab_size)
                code = dg_err_set(&err, DG_E_INPUT, "token id %d is outside the vocabulary (%d)",
                                  ids[k], cfg->vocab_size);
        if (code != DG_OK || line_set_push(lines, ids, n)) {
            fprintf(stderr, "dragoman translate: line %d: %s\n", lineno,
                    code != DG_OK ? err.msg : "out of memory");
            free(ids);
            rc = -1;
        }
    }
    free(line);
    return rc;
}

static int print_result(const translate_args *a, const dg_tokenizer *tok, const dg_result *r)
{
    json_t *texts = a->jsonl ? json_array() : NULL, *ids = a->jsonl ? json_array() : NULL,
           *scores = a->jsonl ? json_array() : NULL;
    for (int h = 0; h < r->n; h++) {
        dg_err err = {0};
        char *text = NULL;
        if (dg_tokenizer_decode(tok, r->ids[h], r->len[h], true, &text, &err) != DG_OK) {
            fprintf(stderr, "dragoman translate: decoding output: %s\n", err.msg);
            json_decref(texts), json_decref(ids), json_decref(scores);
            return -1;
        }
        if (a->jsonl) {
            json_t *row = json_array();
            for (int k = 0; k < r->len[h]; k++)
                json_array_append_new(row, json_integer(r->ids[h][k]));
            json_array_append_new(texts, json_string(text));
            json_array_append_new(ids, row);
            json_array_append_new(scores, json_real(r->scores[h]));
        } else {
            puts(text);
        }
        free(text);
    }
    if (a->jsonl) {
        json_t *obj = json_pack("{s:o,s:o,s:o}", "text", texts, "ids", ids, "scores", scores);
        char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9));
        puts(s);
        free(s);
        json_decref(obj);
    }
    return 0;
}

int cmd_translate(int argc, char **argv)
{
    translate_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc > 0 ? 0 : 2;

    dg_err err = {0};
    dg_tokenizer *tok = NULL;
    dg_model *model = NULL;
    dg_batch *batch = NULL;
    dg_result *results = NULL;
    line_set lines = {0};
    rc = 1;

    if (!(tok = dg_tokenizer_load(a.model_dir, &err)) ||
        !(model = dg_model_load_opts(a.model_dir, &a.load, &err)) ||
        !(batch = dg_batch_create(model, a.threads, &err))) {
        fprintf(stderr, "dragoman translate: %s\n", err.msg);
        goto out;
    }
    dg_search_opts o;
    dg_search_opts_default(&o, model);
    if (a.have_beam) o.num_beams = a.beam_size;
    o.num_return_sequences = a.n_best;
    if (a.have_max_new) o.max_new_tokens = a.max_new_tokens;
    if (a.have_lp) o.length_penalty = a.length_penalty;
    /* HF counts min_length from the decoder start token, min_new_tokens after it */
    if (a.min_new_tokens + 1 > o.min_length) o.min_length = a.min_new_tokens + 1;
    if (dg_search_opts_check(&o, model, &err) != DG_OK) {
        fprintf(stderr, "dragoman translate: %s\n", err.msg);
        goto out;
    }
    if (read_inputs(&a, tok, dg_model_config(model), &lines)) goto out;
    if (lines.n && !(results = calloc(lines.n, sizeof *results))) {
        fprintf(stderr, "dragoman translate: out of memory\n");
        goto out;
    }
    if (lines.n && dg_translate(batch, (const int *const *)lines.ids, lines.len, lines.n, &o,
                                a.batch_size, results, &err) != DG_OK) {
        fprintf(stderr, "dragoman translate: %s\n", err.msg);
        goto out;
    }
    rc = 0;
    for (int i = 0; i < lines.n && !rc; i++)
        rc = print_result(&a, tok, &results[i]) ? 1 : 0;
out:
    for (int i = 0; results && i < lines.n; i++)
        dg_result_free(&results[i]);
    free(results);
    line_set_free(&lines);
    dg_batch_free(batch);
    dg_model_free(model);
    dg_tokenizer_free(tok);
    return rc;
}
