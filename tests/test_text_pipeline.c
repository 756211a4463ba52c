/* text/pipeline.c on the demo model's tokenizer, without the model: the segments prepare makes
 * (sentences, masked text, limits and the failures callers name), and what finish makes of
 * hand-written model outputs (layout kept, protected spans put back, n-best, word alignment in
 * code points). Expectations are written by hand. */
#include <stdlib.h>

#include "tests/test.h"
#include "text/pipeline.h"

static const dg_tokenizer *tok;

static dg_text_opts plain(void)
{
    return (dg_text_opts){.format = DG_TEXT_PLAIN, .split = true, .preserve = true};
}

/* The segments of texts as "doc:block:masked|...". */
static void check_segments(const char *const *texts, int n, const dg_text_opts *o,
                           const char *want)
{
    dg_text_set s;
    dg_text_fail f;
    dg_err err = {0};
    CHECK_INT_EQ(dg_text_prepare(texts, n, o, tok, &s, &f, &err), DG_OK);
    char got[1024] = "";
    for (int k = 0; k < s.n_segs; k++) {
        const dg_text_segment *g = &s.segs[k];
        const dg_text_block *b = &s.blocks[g->block];
        size_t at = strlen(got);
        snprintf(got + at, sizeof got - at, "%s%d:%d:%.*s", k ? "|" : "", b->doc, g->block,
                 g->prot.masked ? (int)g->prot.masked_len : (int)g->len,
                 g->prot.masked ? g->prot.masked : b->text + g->start);
        /* the model input is the tokenizer's encoding of that text */
        int *ids = NULL, m = 0;
        CHECK_INT_EQ(dg_tokenizer_encode(tok, DG_SIDE_SOURCE,
                                         g->prot.masked ? g->prot.masked : b->text + g->start,
                                         g->prot.masked ? g->prot.masked_len : g->len, &ids, &m,
                                         &err), DG_OK);
        CHECK_MSG(m == g->n_ids && !memcmp(ids, g->ids, (size_t)m * sizeof *ids),
                  "segment %d: ids differ from the tokenizer's", k);
        free(ids);
    }
    CHECK_MSG(!strcmp(got, want), "segments '%s', want '%s'", got, want);
    dg_text_set_free(&s);
}

/* texts prepared with o, finished with the given hypotheses per segment ("a|b" = n-best). */
static void check_finish(const char *const *texts, int n, const dg_text_opts *o,
                         const char *const *hyps, int n_best, const char *const *want)
{
    dg_text_set s;
    dg_text_fail f;
    dg_err err = {0};
    CHECK_INT_EQ(dg_text_prepare(texts, n, o, tok, &s, &f, &err), DG_OK);
    dg_text_output out[8];
    char *split[8][4];
    for (int k = 0; k < s.n_segs && k < 8; k++) {
        char *all = strdup(hyps[k]), *save = NULL;
        int m = 0;
        for (char *t = strtok_r(all, "|", &save); t && m < 4; t = strtok_r(NULL, "|", &save))
            split[k][m++] = strdup(t);
        free(all);
        out[k] = (dg_text_output){m, split[k], NULL, NULL, NULL};
    }
    dg_text_result res[4];
    CHECK_INT_EQ(dg_text_finish(&s, out, n_best, res, &err), DG_OK);
    for (int d = 0, w = 0; d < n; d++)
        for (int h = 0; h < n_best; h++, w++)
            CHECK_MSG(!strcmp(res[d].hyps[h], want[w]), "text %d, hypothesis %d: '%s', want '%s'",
                      d, h, res[d].hyps[h], want[w]);
    dg_text_result_free(res, n);
    for (int k = 0; k < s.n_segs && k < 8; k++)
        for (int m = 0; m < out[k].n; m++)
            free(split[k][m]);
    dg_text_set_free(&s);
}

static void check_fail(const char *const *texts, int n, const dg_text_opts *o, int doc, int seg,
                       int n_tokens, bool too_many)
{
    dg_text_set s;
    dg_text_fail f;
    dg_err err = {0};
    CHECK_MSG(dg_text_prepare(texts, n, o, tok, &s, &f, &err) != DG_OK, "prepare passed");
    CHECK_INT_EQ(f.doc, doc);
    CHECK_INT_EQ(f.seg, seg);
    CHECK_MSG(n_tokens ? f.n_tokens == n_tokens : f.n_tokens == 0, "n_tokens %d, want %d",
              f.n_tokens, n_tokens);
    CHECK_INT_EQ(f.too_many, too_many);
    dg_text_set_free(&s);
}

int main(void)
{
    dg_err err = {0};
    dg_tokenizer *t = dg_tokenizer_load(DG_SOURCE_DIR "/models/demo-en-de", &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t)
        return 1;
    tok = t;
    dg_text_opts o = plain();

    /* segments: one block per plain text, its sentences, their masked text */
    const char *two[] = {"Open the file. Visit https://example.com now!", "  \n", "Hello"};
    check_segments(two, 3, &o, "0:0:Open the file.|0:0:Visit 1 now!|2:2:Hello");
    dg_text_opts nosplit = o;
    nosplit.split = false;
    nosplit.preserve = false;
    check_segments(two, 3, &nosplit,
                   "0:0:Open the file. Visit https://example.com now!|1:1:  \n|2:2:Hello");

    /* finish: layout between sentences kept, spans back, n-best (a sentence with fewer
     * hypotheses gives its best) */
    const char *para[] = {"Open the file.\n\n  Visit https://example.com now!  "};
    const char *hyps[] = {"Datei öffnen.|Öffne die Datei.", "Besuche 1 jetzt!"};
    const char *want[] = {"Datei öffnen.\n\n  Besuche https://example.com jetzt!  ",
                          "Öffne die Datei.\n\n  Besuche https://example.com jetzt!  "};
    check_finish(para, 1, &o, hyps, 2, want);
    /* a blank text has no segment and comes back as it was */
    const char *blank[] = {" ", "Hi."};
    const char *hyps2[] = {"Hallo."};
    const char *want2[] = {" ", "Hallo."};
    check_finish(blank, 2, &o, hyps2, 1, want2);

    /* failures name the text and its sentence */
    const char *many[] = {"A. B.", "C. D. E."};
    dg_text_opts lim = o;
    lim.max_segments = 4;
    check_fail(many, 2, &lim, -1, -1, 0, true);
    lim.max_segments = 5;
    dg_text_set s;
    dg_text_fail f;
    CHECK_INT_EQ(dg_text_prepare(many, 2, &lim, tok, &s, &f, &err), DG_OK);
    CHECK_INT_EQ(s.n_segs, 5);
    CHECK_INT_EQ(s.docs[1].first_seg, 2);
    CHECK_INT_EQ(s.docs[1].n_segs, 3);
    dg_text_set_free(&s);
    const char *longer[] = {"Hi.", "Short. This sentence is clearly longer than six tokens."};
    lim = o;
    lim.max_tokens = 6;
    dg_text_set one;
    CHECK_INT_EQ(dg_text_prepare(longer + 1, 1, &nosplit, tok, &one, &f, &err), DG_OK);
    int n_long = one.segs[0].n_ids;  /* unsplit: at least the sentence's ids */
    dg_text_set_free(&one);
    CHECK_MSG(n_long > 6, "%d tokens", n_long);
    CHECK_INT_EQ(dg_text_prepare(longer, 2, &lim, tok, &s, &f, &err), DG_E_INPUT);
    CHECK_INT_EQ(f.doc, 1);
    CHECK_INT_EQ(f.seg, 1);
    CHECK_MSG(f.n_tokens > 6, "n_tokens %d", f.n_tokens);
    CHECK_MSG(s.segs[0].n_ids > 0 && s.segs[2].ids == NULL, "ids kept before the failure only");
    dg_text_set_free(&s);
    lim.truncate = true;  /* cut to the limit, the framing (EOS) kept */
    CHECK_INT_EQ(dg_text_prepare(longer, 2, &lim, tok, &s, &f, &err), DG_OK);
    CHECK_INT_EQ(s.segs[2].n_ids, 6);
    int *full = NULL, nf = 0;
    CHECK_INT_EQ(dg_tokenizer_encode(tok, DG_SIDE_SOURCE, s.segs[2].prot.masked,
                                     s.segs[2].prot.masked_len, &full, &nf, &err), DG_OK);
    CHECK_MSG(!memcmp(full, s.segs[2].ids, 5 * sizeof *full) &&
                  s.segs[2].ids[5] == full[nf - 1],
              "truncated ids are the first five and the last (EOS)");
    free(full);
    dg_text_set_free(&s);
    lim = o;
    lim.vocab_size = 5;  /* every real token is past it */
    check_fail(longer, 2, &lim, 0, 0, 0, false);
    CHECK_INT_EQ(dg_text_prepare(longer, 2, &lim, tok, &s, &f, &err), DG_E_INPUT);
    CHECK_MSG(strstr(err.msg, "is outside the vocabulary (5)") != NULL, "%s", err.msg);
    dg_text_set_free(&s);

    /* HTML: one block per block element, its protected elements masked whole (a <code> across
     * a sentence end keeps the two sentences one), preserve false still masking them */
    dg_text_opts html = o;
    html.format = DG_TEXT_HTML;
    const char *page[] = {"<h1>Open</h1><p>Run <code>a. B</code> now. Then visit https://x.org.</p>",
                          "<img src=a.png>", "<p>Hi <b>you</b>.</p>"};
    check_segments(page, 3, &html, "0:0:Open|0:1:Run 1 now.|0:1:Then visit 1.|2:2:Hi you.");
    html.preserve = false;
    check_segments(page, 1, &html, "0:0:Open|0:1:Run 1 now.|0:1:Then visit https://x.org.");
    html.preserve = true;
    /* finish renders the page: tags around their words, without alignment placed as anchors */
    const char *hyps3[] = {"Öffnen", "Führe 1 jetzt aus.", "Dann besuche 1.", "Hallo du."};
    const char *want3[] = {"<h1>Öffnen</h1><p>Führe <code>a. B</code> jetzt aus. Dann besuche "
                           "https://x.org.</p>", "<img src=a.png>", NULL};
    dg_text_set hs;
    CHECK_INT_EQ(dg_text_prepare(page, 3, &html, tok, &hs, &f, &err), DG_OK);
    CHECK_MSG(hs.needs_align && hs.docs[1].n_segs == 0 && hs.docs[2].first_seg == 3,
              "needs_align %d, page 1 %d segments, page 2 from %d", hs.needs_align,
              hs.docs[1].n_segs, hs.docs[2].first_seg);
    dg_text_output ho[4];
    int one_len = 0;
    for (int k = 0; k < 4; k++)
        ho[k] = (dg_text_output){1, (char *const *)&hyps3[k], NULL, &one_len, NULL};
    dg_text_result hr[3];
    CHECK_INT_EQ(dg_text_finish(&hs, ho, 1, hr, &err), DG_OK);
    for (int d = 0; d < 2; d++)
        CHECK_MSG(!strcmp(hr[d].hyps[0], want3[d]), "page %d: '%s', want '%s'", d,
                  hr[d].hyps[0], want3[d]);
    CHECK_MSG(strstr(hr[2].hyps[0], "<b>") && strstr(hr[2].hyps[0], "</b>"), "'%s'",
              hr[2].hyps[0]);
    dg_text_result_free(hr, 3);
    dg_text_set_free(&hs);
    /* a page gumbo refuses names its text; return_alignment is for plain text */
    char deep[3400] = "";
    for (int i = 0; i < 1100; i++)
        strcat(deep, "<b>");
    const char *bad[] = {"<p>fine</p>", deep};
    check_fail(bad, 2, &html, 1, -1, 0, false);
    html.return_alignment = true;
    CHECK_INT_EQ(dg_text_prepare(page, 1, &html, tok, &hs, &f, &err), DG_E_INPUT);
    dg_text_set_free(&hs);

    dg_tokenizer_free(t);
    return test_summary();
}
