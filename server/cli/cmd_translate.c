/* DESIGN: `dragoman translate`: one input per stdin line → translations on stdout, through the
 * same tokenizer, sentence splitter, generation options (server/api/gen_options.c) and engine the
 * server uses, so a line translates here exactly as the same text does over HTTP. All lines
 * are read, split into sentences and tokenized first (a bad line fails the run before any
 * compute, naming its line number), then every sentence is translated with dg_translate,
 * which sorts by length and batches; results come back in input order and each line is put
 * back together from its sentences as the server does (--no-split: one line, one sentence).
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
#include "text/segment.h"
#include "text/protect.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    const char *model_dir;
    const char *source, *target; /* --source / --target, NULL when not given */
    dg_gen_values gen;
    dg_model_opts load;       /* --compute-type */
    int batch_size, threads;
    int jsonl, input_ids, no_split;
    int alignment, alignment_layer;  /* --alignment, --alignment-layer (-1: the default) */
    int no_preserve;                 /* --no-preserve: protected spans are translated as text */
} translate_args;

/* The sentences of all lines (ids: encoder input of each), and per line its text and spans. */
typedef struct {
    int **ids;
    int *len;
    int n, cap;
    int n_lines, lines_cap;
    char **text;          /* [n_lines] the line, for putting its translation back together */
    int *first;           /* [n_lines + 1] its first sentence */
    dg_span *spans;       /* [n] each sentence's bytes in its line */
    dg_protect *prot;     /* [n] each sentence's protected spans (masked text translated) */
} line_set;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dragoman translate [--model DIR] [options] < input\n"
            "One input per line; translations on stdout in input order. A line is split into\n"
            "sentences and put back together as the server does.\n"
            "  --model DIR                Hugging Face checkpoint folder (weights + tokenizer);\n"
            "                             default: the bundled demo model (English to German)\n");
    dg_gen_usage(f);
    fprintf(f,
            "  --no-split                 translate each line as one sentence\n"
            "  --batch-size N             sentences decoded together (default 32)\n"
            "  --threads N                compute threads (default 1)\n"
            "  --compute-type T           auto|float32|int8|bfloat16: weight storage and\n"
            "                             arithmetic (default auto = float32)\n"
            "  --format text|jsonl        text: n-best lines per input; jsonl: one JSON object per input\n"
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
            if (!strcmp(optarg, "jsonl"))
                a->jsonl = 1;
            else if (strcmp(optarg, "text")) {
                fprintf(stderr, "dragoman translate: --format is text or jsonl, got '%s'\n", optarg);
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
    if (!a->model_dir)
        a->model_dir = dg_default_model_dir();
    return 0;
}

static int line_set_push(line_set *s, int *ids, int n, dg_span span, dg_protect *prot)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        int **ids2 = realloc(s->ids, cap * sizeof *ids2);
        if (!ids2) return -1;
        s->ids = ids2;
        int *len2 = realloc(s->len, cap * sizeof *len2);
        if (!len2) return -1;
        s->len = len2;
        dg_span *sp2 = realloc(s->spans, cap * sizeof *sp2);
        if (!sp2) return -1;
        s->spans = sp2;
        dg_protect *p2 = realloc(s->prot, cap * sizeof *p2);
        if (!p2) return -1;
        s->prot = p2;
        s->cap = cap;
    }
    s->prot[s->n] = *prot;
    s->ids[s->n] = ids;
    s->len[s->n] = n;
    s->spans[s->n] = span;
    s->n++;
    return 0;
}

/* Starts a line (its sentences follow); takes text over. */
static int line_set_begin(line_set *s, char *text)
{
    if (s->n_lines + 1 >= s->lines_cap) {
        int cap = s->lines_cap ? 2 * s->lines_cap : 64;
        char **t2 = realloc(s->text, cap * sizeof *t2);
        if (!t2) return -1;
        s->text = t2;
        int *f2 = realloc(s->first, (cap + 1) * sizeof *f2);
        if (!f2) return -1;
        s->first = f2;
        s->lines_cap = cap;
    }
    s->text[s->n_lines] = text;
    s->first[s->n_lines++] = s->n;
    s->first[s->n_lines] = s->n;
    return 0;
}

static void line_set_free(line_set *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->ids[i]);
        dg_protect_free(&s->prot[i]);
    }
    free(s->prot);
    for (int i = 0; i < s->n_lines; i++)
        free(s->text[i]);
    free(s->ids);
    free(s->len);
    free(s->spans);
    free(s->text);
    free(s->first);
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

/* One sentence (or a whole --no-split line) into ids, checked so the message names the line;
 * the engine re-checks on its own. */
static dg_code encode(const translate_args *a, const dg_tokenizer *tok, const dg_config *cfg,
                      int src, int tgt, const char *text, size_t len, int **ids, int *n,
                      dg_err *err)
{
    dg_code code = a->input_ids ? parse_id_line(text, ids, n, err)
                   : a->source || a->target
                       ? dg_tokenizer_encode_pair(tok, src, tgt, text, len, ids, n, err)
                       : dg_tokenizer_encode(tok, DG_SIDE_SOURCE, text, len, ids, n, err);
    if (code == DG_OK && *n > cfg->max_positions)
        code = dg_err_set(err, DG_E_INPUT,
                          "%d tokens, the model accepts at most %d (max_position_embeddings)",
                          *n, cfg->max_positions);
    for (int k = 0; code == DG_OK && k < *n; k++)
        if ((*ids)[k] >= cfg->vocab_size)
            code = dg_err_set(err, DG_E_INPUT, "token id %d is outside the vocabulary (%d)",
                              (*ids)[k], cfg->vocab_size);
    return code;
}

static int read_inputs(const translate_args *a, const dg_tokenizer *tok, const dg_config *cfg,
                       int src, int tgt, line_set *lines)
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
        dg_code code = DG_OK;
        /* the line is kept as a C string (put back together by strlen) */
        if (memchr(line, 0, (size_t)len)) {
            fprintf(stderr, "dragoman translate: line %d: holds a NUL byte\n", lineno);
            rc = -1;
            break;
        }
        char *text = strndup(line, (size_t)len);
        if (!text || line_set_begin(lines, text)) {
            free(text);
            code = dg_err_set(&err, DG_E_NOMEM, "out of memory");
        }
        int n_sent = a->no_split ? 1 : dg_split_sentences(line, (size_t)len, NULL, 0);
        dg_span one = {0, (size_t)len}, *spans = a->no_split ? &one : NULL;
        if (code == DG_OK && !a->no_split && n_sent > 0 &&
            (!(spans = calloc((size_t)n_sent, sizeof *spans)) ||
             dg_split_sentences(line, (size_t)len, spans, n_sent) != n_sent))
            code = dg_err_set(&err, DG_E_NOMEM, "out of memory");
        for (int k = 0; code == DG_OK && k < n_sent; k++) {
            int *ids = NULL, n = 0;
            dg_protect prot = {0};
            const char *text = line + spans[k].start;
            size_t tlen = spans[k].len;
            if (!a->input_ids && !a->no_preserve) {
                code = dg_protect_text(tok, text, tlen, &prot, &err);
                text = prot.masked;
                tlen = prot.masked_len;
            }
            if (code == DG_OK)
                code = encode(a, tok, cfg, src, tgt, text, tlen, &ids, &n, &err);
            if (code == DG_OK && line_set_push(lines, ids, n, spans[k], &prot))
                code = dg_err_set(&err, DG_E_NOMEM, "out of memory");
            if (code != DG_OK) {
                free(ids);
                dg_protect_free(&prot);
            }
        }
        if (code == DG_OK)
            lines->first[lines->n_lines] = lines->n;
        if (spans != &one)
            free(spans);
        if (code != DG_OK) {
            fprintf(stderr, "dragoman translate: line %d: %s\n", lineno, err.msg);
            rc = -1;
        }
    }
    free(line);
    return rc;
}

/* Prints line i: hypothesis h is the line with each sentence replaced by that sentence's
 * hypothesis h (its best when it has fewer), as the server answers. */
static int print_line(const translate_args *a, const dg_tokenizer *tok, const line_set *lines,
                      int i, const dg_result *results, int n_best)
{
    int first = lines->first[i], n = lines->first[i + 1] - first;
    const char *line = lines->text[i];
    json_t *texts = a->jsonl ? json_array() : NULL, *ids = a->jsonl ? json_array() : NULL,
           *scores = a->jsonl ? json_array() : NULL,
           *aligns = a->jsonl && a->alignment ? json_array() : NULL;
    char **pieces = calloc((size_t)(n ? n : 1), sizeof *pieces);
    int rc = pieces ? 0 : -1;
    for (int h = 0; !rc && h < n_best; h++) {
        json_t *row = a->jsonl ? json_array() : NULL, *al = aligns ? json_array() : NULL;
        char *pairs = NULL;
        size_t pairs_len = 0;
        FILE *pf = a->alignment && !a->jsonl ? open_memstream(&pairs, &pairs_len) : NULL;
        int src_off = 0, tgt_off = 0;
        double score = 0;
        for (int k = 0; !rc && k < n; k++) {
            const dg_result *r = &results[first + k];
            int hh = h < r->n ? h : 0;
            dg_err err = {0};
            free(pieces[k]);
            pieces[k] = NULL;
            char *masked = NULL;
            const dg_protect *p = &lines->prot[first + k];
            dg_align_view v = {lines->ids[first + k], lines->len[first + k], r->ids[hh],
                               r->len[hh], r->align ? r->align[hh] : NULL};
            if (dg_tokenizer_decode(tok, r->ids[hh], r->len[hh], true, &masked, &err) != DG_OK ||
                dg_protect_restore(p, tok, masked, r->align ? &v : NULL, &pieces[k], NULL, &err)) {
                fprintf(stderr, "dragoman translate: decoding output: %s\n", err.msg);
                rc = -1;
            }
            free(masked);
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
            src_off += lines->len[first + k];
            tgt_off += r->len[hh];
            score += r->scores[hh];
        }
        if (pf && fclose(pf))
            rc = -1;
        char *text = rc ? NULL
                     : a->no_split ? (n ? strdup(pieces[0]) : strdup(""))
                                   : dg_join_sentences(line, strlen(line), lines->spans + first, n,
                                                       pieces);
        if (!rc && !text) {
            fprintf(stderr, "dragoman translate: out of memory\n");
            rc = -1;
        }
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
        else if (!rc)
            puts(text);
        json_decref(row);
        json_decref(al);
        free(pairs);
        free(text);
    }
    for (int k = 0; pieces && k < n; k++)
        free(pieces[k]);
    free(pieces);
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
    line_set lines = {0};
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
    if (read_inputs(&a, tok, dg_model_config(model), src, tgt, &lines)) goto out;
    /* lost protected spans are put back by the alignment */
    o.return_alignment = a.alignment;
    for (int i = 0; i < lines.n && !o.return_alignment; i++)
        o.return_alignment = lines.prot[i].n > 0;
    o.alignment_layer = a.alignment_layer;
    if (dg_search_opts_check(&o, model, &err)) {
        fprintf(stderr, "dragoman translate: %s\n", err.msg);
        goto out;
    }
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
    for (int i = 0; i < lines.n_lines && !rc; i++)
        rc = print_line(&a, tok, &lines, i, results, o.num_return_sequences) ? 1 : 0;
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
