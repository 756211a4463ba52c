/* DESIGN: `dragoman translate`: one input per stdin line → translations on stdout, through the
 * same text work (text/pipeline.h: sentences, protected spans, tokenizer), generation options
 * (server/api/gen_options.c) and engine the server uses, so a line translates here exactly as
 * the same text does over HTTP. All lines are read and prepared first (a bad line fails the run
 * before any compute, naming its line number), then every sentence is translated with
 * dg_translate, which sorts by length and batches; results come back in input order and
 * dg_text_finish puts each line back together from its sentences as the server does
 * (--no-split: one line, one sentence).
 *
 * Output: `text` prints the n-best hypotheses of each input, one per line (n lines per input);
 * `jsonl` prints per input {"text": [...], "ids": [[...]], "scores": [...]} with lists of length
 * n-best. ids are the generated target ids (no decoder start token, EOS included when
 * generated), the line's sentences one after another; a score is Hugging Face's
 * sequences_scores, averaged over the line's sentences as the server's score is. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "server/cli/cli_lang.h"
#include "server/cli/commands.h"
#include "server/cli/default_model.h"
#include "server/api/gen_options.h"
#include "text/pipeline.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    const char *model_dir;
    const char *source, *target; /* --source / --target, NULL when not given */
    dg_gen_values gen;
    dg_model_opts load;       /* --compute-type */
    int batch_size, threads;
    int jsonl, html, input_ids, no_split; /* --format jsonl / html */
    int alignment, alignment_layer;  /* --alignment, --alignment-layer (-1: the default) */
    int no_preserve;                 /* --no-preserve: protected spans are translated as text */
} translate_args;

/* The input lines, read up to the end or to the first line holding a NUL byte. */
typedef struct {
    char **text;
    int n, cap;
    int nul_line;         /* 1-based number of the line with a NUL byte; 0 when none */
} line_set;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dragoman translate [--model DIR] [options] < input\n"
            "One input per line (--format html: the whole input is one); translations on\n"
            "stdout in input order. A line is split into\n"
            "sentences and put back together as the server does.\n"
            "  --model DIR                Hugging Face checkpoint folder (weights + tokenizer);\n"
            "                             default: the bundled demo model (English to German)\n");
    dg_gen_usage(f);
    fprintf(f,
            "  --no-split                 translate each line as one sentence\n"
            "  --batch-size N             sentences decoded together (default 32)\n"
            "  --threads N                compute threads (default 1)\n"
            "  --compute-type T           auto|float32|int8|bfloat16: weight storage and\n"
            "                             arithmetic (default float32, Hugging Face's ids;\n"
            "                             auto = int8 on CPUs with AVX2 or AVX-512)\n"
            "  --format text|jsonl|html   text: n-best lines per input; jsonl: one JSON object per input;\n"
            "                             html: the whole input is one HTML page or fragment, its\n"
            "                             translation printed with every tag kept\n"
            "  --input-ids                lines are space-separated source ids, the exact encoder\n"
            "                             input (implies --no-split)\n"
            "  --alignment                also print each hypothesis' alignment: text: a tab, then\n"
            "                             source-target token index pairs (each target token's\n"
            "                             most attended source token); jsonl: \"alignment\", per\n"
            "                             hypothesis one row of source-token weights per target id\n"
            "  --alignment-layer N        decoder layer whose cross-attention (averaged over its\n"
            "                             heads) aligns (default: the penultimate one)\n"
            "  --no-preserve              translate URLs, e-mail addresses, placeholders, file\n"
            "                             names, numbers and characters the model has no token\n"
            "                             for like other text (default: they come out verbatim)\n"
            "  --source LANG              language of the input (de, deu, de_DE, ...; default:\n"
            "                             the model's src_lang)\n"
            "  --target LANG              language to translate into: the forced first token\n"
            "                             (mBART-50, M2M100, NLLB), >>xx<< (multi-target OPUS-MT)\n"
            "                             or the task prefix (T5)\n");
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

enum { OPT_GEN = 1000 };  /* getopt values OPT_GEN + dg_gen_option for the generation options */

static int parse_args(int argc, char **argv, translate_args *a)
{
    static const struct option fixed[] = {
        {"model", required_argument, 0, 'm'},       {"batch-size", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},     {"format", required_argument, 0, 'f'},
        {"input-ids", no_argument, 0, 'i'},         {"no-split", no_argument, 0, 'p'},
        {"target-prefix", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'},
        {"source", required_argument, 0, 'S'},      {"target", required_argument, 0, 'T'},
        {"compute-type", required_argument, 0, 'c'},
        {"alignment", no_argument, 0, 'a'},         {"alignment-layer", required_argument, 0, 'L'},
        {"no-preserve", no_argument, 0, 'P'}};
    enum { N_FIXED = sizeof fixed / sizeof fixed[0] };
    struct option opts[N_FIXED + DG_GEN_COUNT + 1];
    memcpy(opts, fixed, sizeof fixed);
    for (int i = 0; i < DG_GEN_COUNT; i++)
        opts[N_FIXED + i] = (struct option){dg_gen_name(i, DG_GEN_CLI) + 2,
                                            dg_gen_is_bool(i) ? no_argument : required_argument,
                                            0, OPT_GEN + i};
    opts[N_FIXED + DG_GEN_COUNT] = (struct option){0, 0, 0, 0};
    *a = (translate_args){.batch_size = 32, .threads = 1, .alignment_layer = -1};
    dg_model_opts_default(&a->load);
    optind = 1;
    int c;
    char msg[256];
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c >= OPT_GEN && c < OPT_GEN + DG_GEN_COUNT) {
            if (dg_gen_is_bool(c - OPT_GEN)
                    ? dg_gen_set_number(&a->gen, c - OPT_GEN, 1, true, DG_GEN_CLI, msg, sizeof msg)
                    : dg_gen_set_text(&a->gen, c - OPT_GEN, optarg, DG_GEN_CLI, msg, sizeof msg)) {
                fprintf(stderr, "dragoman translate: %s\n", msg);
                return -1;
            }
            continue;
        }
        switch (c) {
        case 'm': a->model_dir = optarg; break;
        case 's':
            if (parse_int("--batch-size", optarg, 1, 4096, &a->batch_size)) return -1;
            break;
        case 't':
            if (parse_int("--threads", optarg, 1, 256, &a->threads)) return -1;
            break;
        case 'f':
            a->jsonl = !strcmp(optarg, "jsonl");
            a->html = !strcmp(optarg, "html");
            if (!a->jsonl && !a->html && strcmp(optarg, "text")) {
                fprintf(stderr, "dragoman translate: --format is text, jsonl or html, got '%s'\n",
                        optarg);
                return -1;
            }
            break;
        case 'i': a->input_ids = a->no_split = 1; break;
        case 'p': a->no_split = 1; break;
        case 'r':
            if (!*optarg) {
                fprintf(stderr, "dragoman translate: --target-prefix needs a non-empty text\n");
                return -1;
            }
            a->gen.target_prefix = optarg;
            a->no_split = 1;  /* the prefix begins the line's translation, not each sentence's */
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
        case 'a': a->alignment = 1; break;
        case 'P': a->no_preserve = 1; break;
        case 'L':
            if (parse_int("--alignment-layer", optarg, 0, 1024, &a->alignment_layer)) return -1;
            break;
        case 'S': a->source = optarg; break;
        case 'T': a->target = optarg; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dragoman translate: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (a->html && (a->alignment || a->input_ids)) {
        fprintf(stderr, "dragoman translate: --format html takes text, not --%s\n",
                a->alignment ? "alignment" : "input-ids");
        return -1;
    }
    if (!a->model_dir)
        a->model_dir = dg_default_model_dir();
    return 0;
}

static int line_set_push(line_set *s, char *text)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        char **t2 = realloc(s->text, cap * sizeof *t2);
        if (!t2) return -1;
        s->text = t2;
        s->cap = cap;
    }
    s->text[s->n++] = text;
    return 0;
}

static void line_set_free(line_set *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->text[i]);
    free(s->text);
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

/* --input-ids: a line's ids are given (text/pipeline.h's encode hook). */
static dg_code encode_ids(void *arg, const char *text, size_t len, int **ids, int *n, dg_err *err)
{
    (void)arg, (void)len;  /* the whole line, NUL-terminated */
    return parse_id_line(text, ids, n, err);
}

/* Reads every line (up to one holding a NUL byte, reported after the lines before it are
 * prepared, so the first bad line is the one named). Returns -1 when stdin runs out of memory. */
static int read_lines(line_set *lines)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = 0;
        if (len > 0 && line[len - 1] == '\r') line[--len] = 0;
        /* the line is kept as a C string (put back together by strlen) */
        if (memchr(line, 0, (size_t)len)) {
            lines->nul_line = lines->n + 1;
            break;
        }
        char *text = strndup(line, (size_t)len);
        if (!text || line_set_push(lines, text)) {
            free(text);
            fprintf(stderr, "dragoman translate: line %d: out of memory\n", lines->n + 1);
            rc = -1;
            break;
        }
    }
    free(line);
    return rc;
}

/* --format html: the whole input is one document. Returns -1 when out of memory. */
static int read_all(line_set *lines)
{
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len + 65536 + 1 > cap) {
            char *b = realloc(buf, cap = 2 * cap + 65536 + 1);
            if (!b) {
                free(buf);
                fprintf(stderr, "dragoman translate: the input: out of memory\n");
                return -1;
            }
            buf = b;
        }
        got = fread(buf + len, 1, cap - len - 1, stdin);
        len += got;
    } while (got);
    buf[len] = 0;
    if (memchr(buf, 0, len)) {
        lines->nul_line = 1;
        memset(buf, 0, 1);  /* prepared as an empty page; the NUL byte is reported after */
    }
    if (line_set_push(lines, buf)) {
        free(buf);
        fprintf(stderr, "dragoman translate: the input: out of memory\n");
        return -1;
    }
    return 0;
}

/* Every line into the sentences the model translates (text/pipeline.h); a bad line fails the
 * run, named by its number. */
static int prepare_lines(const translate_args *a, const dg_tokenizer *tok, const dg_config *cfg,
                         int src, int tgt, const line_set *lines, dg_text_set *set)
{
    dg_text_opts o = {.format = a->html ? DG_TEXT_HTML : DG_TEXT_PLAIN, .split = !a->no_split,
                      .preserve = !a->input_ids && !a->no_preserve,
                      .pair = a->source || a->target, .src = src, .tgt = tgt,
                      .max_tokens = cfg->max_positions, .vocab_size = cfg->vocab_size,
                      .encode = a->input_ids ? encode_ids : NULL};
    dg_text_fail f;
    dg_err err = {0};
    /* --format html: one document, its sentence named instead of a line */
    char where[48];
    if (dg_text_prepare((const char *const *)lines->text, lines->n, &o, tok, set, &f, &err)) {
        if (a->html)
            snprintf(where, sizeof where, f.seg >= 0 ? "sentence %d" : "the input", f.seg + 1);
        else
            snprintf(where, sizeof where, "line %d", f.doc + 1);
        if (f.n_tokens)
            fprintf(stderr, "dragoman translate: %s: %d tokens, the model accepts at most "
                    "%d (max_position_embeddings)\n", where, f.n_tokens, cfg->max_positions);
        else if (f.doc >= 0)
            fprintf(stderr, "dragoman translate: %s: %s\n", where, err.msg);
        else
            fprintf(stderr, "dragoman translate: %s\n", err.msg);
        return -1;
    }
    if (lines->nul_line) {
        if (a->html)
            fprintf(stderr, "dragoman translate: the input holds a NUL byte\n");
        else
            fprintf(stderr, "dragoman translate: line %d: holds a NUL byte\n", lines->nul_line);
        return -1;
    }
    return 0;
}

/* Prints line i: its n-best translations (text/pipeline.h's, in res), with what the engine
 * gave for its sentences (ids, scores, alignment rows). */
static int print_line(const translate_args *a, const dg_text_set *set, int i,
                      const dg_result *results, const dg_text_result *res, int n_best)
{
    int first = set->docs[i].first_seg, n = set->docs[i].n_segs;
    json_t *texts = a->jsonl ? json_array() : NULL, *ids = a->jsonl ? json_array() : NULL,
           *scores = a->jsonl ? json_array() : NULL,
           *aligns = a->jsonl && a->alignment ? json_array() : NULL;
    int rc = 0;
    for (int h = 0; !rc && h < n_best; h++) {
        json_t *row = a->jsonl ? json_array() : NULL, *al = aligns ? json_array() : NULL;
        char *pairs = NULL;
        size_t pairs_len = 0;
        FILE *pf = a->alignment && !a->jsonl ? open_memstream(&pairs, &pairs_len) : NULL;
        int src_off = 0, tgt_off = 0;
        double score = 0;
        for (int k = 0; k < n; k++) {
            const dg_result *r = &results[first + k];
            int hh = h < r->n ? h : 0;
            for (int t = 0; row && t < r->len[hh]; t++)
                json_array_append_new(row, json_integer(r->ids[hh][t]));
            for (int t = 0; r->align && t < r->len[hh]; t++) {
                const float *w = r->align[hh] + (size_t)t * r->src_len;
                int best = 0;
                json_t *wr = al ? json_array() : NULL;
                for (int j = 0; j < r->src_len; j++) {
                    best = w[j] > w[best] ? j : best;
                    if (wr)
                        json_array_append_new(wr, json_real(w[j]));
                }
                if (wr)
                    json_array_append_new(al, wr);
                if (pf)
                    fprintf(pf, "%s%d-%d", tgt_off + t ? " " : "", src_off + best,
                            tgt_off + t);
            }
            src_off += set->segs[first + k].n_ids;
            tgt_off += r->len[hh];
            score += r->scores[hh];
        }
        if (pf && fclose(pf))
            rc = -1;
        const char *text = res->hyps[h];
        if (!rc && a->jsonl) {
            json_array_append_new(texts, json_string(text));
            json_array_append_new(ids, row);
            row = NULL;
            json_array_append_new(scores, json_real(n ? score / n : 0));
            if (aligns) {
                json_array_append_new(aligns, al);
                al = NULL;
            }
        } else if (!rc && pf)
            printf("%s\t%s\n", text, pairs ? pairs : "");
        else if (!rc && a->html)  /* the page as rendered, ending with one newline */
            printf("%s%s", text, *text && text[strlen(text) - 1] == '\n' ? "" : "\n");
        else if (!rc)
            puts(text);
        json_decref(row);
        json_decref(al);
        free(pairs);
    }
    if (a->jsonl) {
        json_t *obj = json_pack("{s:o,s:o,s:o}", "text", texts, "ids", ids, "scores", scores);
        if (aligns)
            json_object_set_new(obj, "alignment", aligns);
        char *s = rc ? NULL : json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9));
        if (s)
            puts(s);
        free(s);
        json_decref(obj);
    }
    return rc;
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
    const int **ids = NULL;
    int *len = NULL;
    dg_text_output *outs = NULL;
    dg_text_result *res = NULL;
    line_set lines = {0};
    dg_text_set set = {0};
    rc = 1;

    if (!(tok = dg_tokenizer_load(a.model_dir, &err)) ||
        !(model = dg_model_load_opts(a.model_dir, &a.load, &err)) ||
        !(batch = dg_batch_create(model, a.threads, &err))) {
        fprintf(stderr, "dragoman translate: %s\n", err.msg);
        goto out;
    }
    int src, tgt;
    if (dg_cli_langs("translate", tok, a.source, a.target, &src, &tgt))
        goto out;
    dg_search_opts o;
    char msg[256];
    if (dg_gen_apply(&a.gen, model, tok, dg_model_config(model)->max_positions,
                     DG_GEN_CLI, &o, msg, sizeof msg)) {
        fprintf(stderr, "dragoman translate: %s\n", msg);
        goto out;
    }
    /* the target language's token forced first, as generate(forced_bos_token_id=...) */
    if (a.target && dg_tokenizer_forced_bos(tok, tgt) >= 0)
        o.forced_bos_token_id = dg_tokenizer_forced_bos(tok, tgt);
    const dg_config *cfg = dg_model_config(model);
    if ((a.html ? read_all(&lines) : read_lines(&lines)) || prepare_lines(&a, tok, cfg, src, tgt, &lines, &set)) goto out;
    /* lost protected spans are put back by the alignment */
    o.return_alignment = a.alignment || set.needs_align; /* and HTML tags placed by it */
    o.alignment_layer = a.alignment_layer;
    if (dg_search_opts_check(&o, model, &err)) {
        fprintf(stderr, "dragoman translate: %s\n", err.msg);
        goto out;
    }
    int n = set.n_segs;
    if (n && (!(results = calloc(n, sizeof *results)) || !(ids = calloc(n, sizeof *ids)) ||
              !(len = calloc(n, sizeof *len)) || !(outs = calloc(n, sizeof *outs)))) {
        fprintf(stderr, "dragoman translate: out of memory\n");
        goto out;
    }
    for (int k = 0; k < n; k++) {
        ids[k] = set.segs[k].ids;
        len[k] = set.segs[k].n_ids;
    }
    if (n && dg_translate(batch, ids, len, n, &o, a.batch_size, results, &err) != DG_OK) {
        fprintf(stderr, "dragoman translate: %s\n", err.msg);
        goto out;
    }
    for (int k = 0; k < n; k++)  /* decoded, spans restored, joined by text/pipeline.c */
        outs[k] = (dg_text_output){results[k].n, NULL, results[k].ids, results[k].len,
                                   results[k].align};
    if (lines.n && !(res = calloc(lines.n, sizeof *res))) {
        fprintf(stderr, "dragoman translate: out of memory\n");
        goto out;
    }
    if (dg_text_finish(&set, outs, o.num_return_sequences, res, &err)) {
        fprintf(stderr, "dragoman translate: decoding output: %s\n", err.msg);
        goto out;
    }
    rc = 0;
    for (int i = 0; i < lines.n && !rc; i++)
        rc = print_line(&a, &set, i, results, &res[i], o.num_return_sequences) ? 1 : 0;
out:
    for (int i = 0; results && i < set.n_segs; i++)
        dg_result_free(&results[i]);
    free(results);
    free(ids);
    free(len);
    free(outs);
    dg_text_result_free(res, res ? lines.n : 0);
    free(res);
    dg_text_set_free(&set);
    line_set_free(&lines);
    dg_batch_free(batch);
    dg_model_free(model);
    dg_tokenizer_free(tok);
    return rc;
}
