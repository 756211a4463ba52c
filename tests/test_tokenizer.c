/* DESIGN: the tokenizer against Hugging Face. Every line of the .jsonl files in
 * shared/tokenizers/golden/ (produced by transformers' MarianTokenizer) must be reproduced
 * exactly: source ids and tokens, target ids and tokens, and both decodings. The hand-written
 * cases below take their expected values from places other than this code: ids printed in the
 * golden files, Python's `re` and `bytes.decode` run on the same strings, raw libsentencepiece
 * pieces looked up in vocab.json by Python, and, for separate vocabularies (no real folder
 * available), the rules of MarianTokenizer's source spelled out next to each check. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

#define TOK_DIR DG_SHARED_DIR "/tokenizers/"

static const char *const folders[] = {"opus-mt-en-mg", "opus-mt-en-pt-ft", "opus-mt-fr-en-ft"};

static dg_tokenizer *load(const char *folder)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s%s", TOK_DIR, folder);
    dg_err err = {0};
    dg_tokenizer *t = dg_tokenizer_load(dir, &err);
    CHECK_MSG(t != NULL, "%s: %s", dir, err.msg);
    return t;
}

static bool ids_match(const json_t *arr, const int *ids, int n)
{
    if (!json_is_array(arr) || (int)json_array_size(arr) != n)
        return false;
    for (int i = 0; i < n; i++)
        if (json_integer_value(json_array_get(arr, i)) != ids[i])
            return false;
    return true;
}

static bool tokens_match(const dg_tokenizer *t, dg_side side, const json_t *arr, const int *ids,
                         int n)
{
    if ((int)json_array_size(arr) != n)
        return false;
    for (int i = 0; i < n; i++) {
        const char *tok = dg_tokenizer_token(t, side, ids[i]);
        if (!tok || strcmp(tok, json_string_value(json_array_get(arr, i))))
            return false;
    }
    return true;
}

static bool decoded_match(const dg_tokenizer *t, const int *ids, int n, bool skip,
                          const json_t *want)
{
    char *text = NULL;
    dg_err err = {0};
    bool ok = dg_tokenizer_decode(t, ids, n, skip, &text, &err) == DG_OK &&
              !strcmp(text, json_string_value(want));
    if (!ok)
        fprintf(stderr, "  decode(skip=%d): got \"%s\" (%s), want \"%s\"\n", skip,
                text ? text : "", err.msg, json_string_value(want));
    free(text);
    return ok;
}

/* One golden line; true when every field matches. */
static bool golden_line(const dg_tokenizer *t, const json_t *g)
{
    const char *kind = json_string_value(json_object_get(g, "kind"));
    bool ok = true;
    if (!strcmp(kind, "encode")) {
        const json_t *text = json_object_get(g, "text");
        int *src = NULL, *tgt = NULL, ns = 0, nt = 0;
        dg_err err = {0};
        ok = dg_tokenizer_encode(t, DG_SIDE_SOURCE, json_string_value(text),
                                 json_string_length(text), &src, &ns, &err) == DG_OK &&
             dg_tokenizer_encode(t, DG_SIDE_TARGET, json_string_value(text),
                                 json_string_length(text), &tgt, &nt, &err) == DG_OK;
        ok = ok && ids_match(json_object_get(g, "ids"), src, ns) &&
             tokens_match(t, DG_SIDE_SOURCE, json_object_get(g, "tokens"), src, ns) &&
             ids_match(json_object_get(g, "target_ids"), tgt, nt) &&
             tokens_match(t, DG_SIDE_TARGET, json_object_get(g, "target_tokens"), tgt, nt) &&
             decoded_match(t, tgt, nt, true, json_object_get(g, "decoded_target")) &&
             decoded_match(t, tgt, nt, false, json_object_get(g, "decoded_target_keep_special"));
        free(src);
        free(tgt);
    } else {
        const json_t *arr = json_object_get(g, "ids");
        int n = (int)json_array_size(arr);
        int *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
        for (int i = 0; i < n; i++)
            ids[i] = (int)json_integer_value(json_array_get(arr, i));
        ok = tokens_match(t, DG_SIDE_TARGET, json_object_get(g, "tokens"), ids, n) &&
             decoded_match(t, ids, n, true, json_object_get(g, "decoded")) &&
             decoded_match(t, ids, n, false, json_object_get(g, "decoded_keep_special"));
        free(ids);
    }
    return ok;
}

/* Golden lines of one folder, parsed; the caller json_decref()s the array. */
static json_t *read_golden(const char *folder)
{
    char path[512];
    snprintf(path, sizeof path, "%sgolden/%s.jsonl", TOK_DIR, folder);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    json_t *lines = json_array();
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_error_t jerr;
        json_t *g = json_loads(line, JSON_ALLOW_NUL, &jerr); /* one text holds U+0000 */
        CHECK_MSG(g != NULL, "%s: %s", path, jerr.text);
        if (g)
            json_array_append_new(lines, g);
    }
    free(line);
    if (f)
        fclose(f);
    return lines;
}

static void test_golden(void)
{
    int total = 0, matched = 0;
    for (size_t f = 0; f < sizeof folders / sizeof *folders; f++) {
        dg_tokenizer *t = load(folders[f]);
        json_t *lines = read_golden(folders[f]);
        size_t i;
        json_t *g;
        json_array_foreach(lines, i, g) {
            total++;
            bool ok = t && golden_line(t, g);
            matched += ok;
            CHECK_MSG(ok, "golden line %s", json_string_value(json_object_get(g, "id")));
        }
        json_decref(lines);
        dg_tokenizer_free(t);
    }
    CHECK_INT_EQ(total, 237);
    printf("golden: %d of %d lines matched\n", matched, total);
}

/* ids of `text` on side compared with an expected list (terminated by -2) */
static void expect_ids(const dg_tokenizer *t, dg_side side, const char *text, size_t len,
                       const int *want)
{
    int *ids = NULL, n = 0, nw = 0;
    while (want[nw] != -2)
        nw++;
    dg_err err = {0};
    dg_code rc = dg_tokenizer_encode(t, side, text, len, &ids, &n, &err);
    bool ok = rc == DG_OK && n == nw && !memcmp(ids, want, (size_t)n * sizeof *ids);
    CHECK_MSG(ok, "encode \"%s\": rc %d (%s), %d ids", text, rc, err.msg, n);
    free(ids);
}

static void expect_decode(const dg_tokenizer *t, const int *ids, int n, bool skip, const char *want)
{
    char *text = NULL;
    dg_err err = {0};
    dg_code rc = dg_tokenizer_decode(t, ids, n, skip, &text, &err);
    CHECK_MSG(rc == DG_OK && !strcmp(text, want), "decode: rc %d (%s) \"%s\" != \"%s\"", rc,
              err.msg, text ? text : "", want);
    free(text);
}

/* Offsets are those of Python's UnicodeDecodeError.start for bytes.decode("utf-8"). */
static void test_utf8(void)
{
    static const struct {
        const char *s;
        size_t len;
        long bad; /* -1: valid */
    } cases[] = {
        {"\xff", 1, 0},
        {"a\xc0\xaf", 3, 1},                 /* overlong '/' */
        {"ab\xed\xa0\x80", 5, 2},            /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, 0},          /* U+110000 */
        {"abc\xe2\x82", 5, 3},               /* truncated */
        {"\xe0\x80\x80", 3, 0},              /* overlong NUL */
        {"ok\xf0\x9f\x91\x8d\xf0\x9f", 8, 6}, /* emoji, then a truncated one */
        {"\x80", 1, 0},
        {"x\xc3\xa9\xc3", 4, 3},
        {"\xf5\x80\x80\x80", 4, 0},
        {"\xe2\x28\xa1", 3, 0},
        {"\xef\xbf\xbf\xf4\x8f\xbf\xbf\x00", 8, -1}, /* U+FFFF, U+10FFFF, NUL */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t bad = 0;
        bool ok = dg_utf8_valid(cases[i].s, cases[i].len, &bad);
        CHECK_MSG(ok == (cases[i].bad < 0) && (ok || (long)bad == cases[i].bad),
                  "case %zu: valid %d offset %zu", i, ok, bad);
    }
    /* through the tokenizer: DG_E_INPUT naming the offset */
    dg_tokenizer *t = load("opus-mt-en-mg");
    if (!t)
        return;
    int *ids = (int *)1, n = 7;
    dg_err err = {0};
    CHECK_INT_EQ(dg_tokenizer_encode(t, DG_SIDE_SOURCE, "ab\xed\xa0\x80", 5, &ids, &n, &err),
                 DG_E_INPUT);
    CHECK_CONTAINS(err.msg, "invalid UTF-8 at byte offset 2");
    CHECK(ids == NULL && n == 0);
    dg_tokenizer_free(t);
}

/* Python's str.isspace() set, checked at both ends; the code points come from
 * [c for c in range(0x110000) if chr(c).isspace()]. */
static void test_spaces(void)
{
    CHECK_INT_EQ(dg_utf8_space_prefix("\xc2\x85x", 3), 2);      /* U+0085 */
    CHECK_INT_EQ(dg_utf8_space_prefix("\xe3\x80\x80x", 4), 3);  /* U+3000 */
    CHECK_INT_EQ(dg_utf8_space_prefix("\x1fx", 2), 1);
    CHECK_INT_EQ(dg_utf8_space_prefix("\xe2\x80\x8bx", 4), 0);  /* U+200B is not a space */
    CHECK_INT_EQ(dg_utf8_space_suffix("x\xe2\x80\xa8", 4), 3);  /* U+2028 */
    CHECK_INT_EQ(dg_utf8_space_suffix("x\xc2\xa0", 3), 2);      /* U+00A0 */
    CHECK_INT_EQ(dg_utf8_space_suffix("x\xc3\xa9", 3), 0);      /* é */
    CHECK_INT_EQ(dg_utf8_space_suffix("", 0), 0);
}

static void test_encode_cases(void)
{
    dg_tokenizer *mg = load("opus-mt-en-mg"), *pt = load("opus-mt-en-pt-ft"),
                 *fr = load("opus-mt-fr-en-ft");
    if (!mg || !pt || !fr)
        goto out;
    /* empty input -> [eos]; eos ids from config.json / the README table */
    expect_ids(mg, DG_SIDE_SOURCE, "", 0, (const int[]){0, -2});
    expect_ids(pt, DG_SIDE_TARGET, NULL, 0, (const int[]){44670, -2});
    expect_ids(fr, DG_SIDE_SOURCE, "", 0, (const int[]){43311, -2});
    CHECK_INT_EQ(dg_tokenizer_eos_id(pt), 44670);
    CHECK_INT_EQ(dg_tokenizer_unk_id(pt), 52024);
    CHECK_INT_EQ(dg_tokenizer_pad_id(pt), 54775);
    CHECK_INT_EQ(dg_tokenizer_vocab_size(mg, DG_SIDE_SOURCE), 54688);
    CHECK_INT_EQ(dg_tokenizer_id_limit(fr, DG_SIDE_TARGET), 53017);
    /* >>xx<<, Python re.compile(">>.+<<"): match() gives the code, sub() deletes all matches.
     * "▁a" = 17 and "▁c" = 2068 in en-mg's vocab.json; HF-SEMANTICS.md gives <unk> ▁a. */
    expect_ids(mg, DG_SIDE_SOURCE, ">>fr<<>>de<< a", 14, (const int[]){1, 17, 0, -2});
    /* '.' stops at '\n': no match; libsentencepiece pieces ▁a ▁> > b ▁c < < ▁d */
    expect_ids(mg, DG_SIDE_SOURCE, "a >>b\nc<< d", 11,
               (const int[]){17, 7004, 3405, 320, 2068, 20182, 20182, 2118, 0, -2});
    /* code ">>a<<" on the first line, the rest is "\n c" -> ▁c */
    expect_ids(mg, DG_SIDE_SOURCE, ">>a<<\n>>b<< c", 13, (const int[]){1, 2068, 0, -2});
    expect_ids(mg, DG_SIDE_SOURCE, ">>><<", 5, (const int[]){1, 0, -2});
    expect_ids(mg, DG_SIDE_SOURCE, ">><<<", 5, (const int[]){1, 0, -2});
    /* a known code keeps its id (>>por<< = 39141); pieces ▁Ol á ▁m undo */
    expect_ids(pt, DG_SIDE_SOURCE, ">>por<< Olá mundo", 18,
               (const int[]){39141, 35807, 1758, 31267, 51876, 44670, -2});
    /* special-token strings are split out anywhere (▁x = 6764) */
    expect_ids(mg, DG_SIDE_SOURCE, "x<unk>x", 7, (const int[]){6764, 1, 6764, 0, -2});
    expect_ids(mg, DG_SIDE_SOURCE, "</s></s>", 8, (const int[]){0, 0, 0, -2});
    /* NUL bytes are text, not terminators (golden "\0nul": ▁ <unk> n ul) */
    expect_ids(mg, DG_SIDE_SOURCE, "\0nul", 4, (const int[]){28, 1, 68, 1528, 0, -2});

    /* language codes: vocab.json keys ">>...<<" in file order */
    CHECK_INT_EQ(dg_tokenizer_n_langs(pt, DG_SIDE_TARGET), 2);
    CHECK_STR_EQ(dg_tokenizer_lang(pt, DG_SIDE_TARGET, 0), ">>pob<<");
    CHECK_STR_EQ(dg_tokenizer_lang(pt, DG_SIDE_TARGET, 1), ">>por<<");
    CHECK(dg_tokenizer_lang(pt, DG_SIDE_TARGET, 2) == NULL);
    CHECK_INT_EQ(dg_tokenizer_n_langs(mg, DG_SIDE_TARGET), 0);

    /* hostile lengths: one line of >>x...<< exactly at the limit is one code token (<unk>) */
    size_t big = DG_TOKENIZER_MAX_INPUT;
    char *s = malloc(big + 1);
    for (size_t i = 0; i < big; i += 3)
        memcpy(s + i, ">>x", big - i < 3 ? big - i : 3);
    memcpy(s + big - 2, "<<", 2);
    expect_ids(mg, DG_SIDE_SOURCE, s, big, (const int[]){1, 0, -2});
    int *ids = NULL, n = 0;
    dg_err err = {0};
    CHECK_INT_EQ(dg_tokenizer_encode(mg, DG_SIDE_SOURCE, s, big + 1, &ids, &n, &err), DG_E_INPUT);
    CHECK_CONTAINS(err.msg, "exceeds the limit");
    free(s);
    CHECK_INT_EQ(dg_tokenizer_encode(mg, (dg_side)7, "a", 1, &ids, &n, &err), DG_E_INPUT);
out:
    dg_tokenizer_free(mg);
    dg_tokenizer_free(pt);
    dg_tokenizer_free(fr);
}

static void test_decode_errors(void)
{
    dg_tokenizer *mg = load("opus-mt-en-mg");
    if (!mg)
        return;
    char *text = (char *)1;
    dg_err err = {0};
    CHECK_INT_EQ(dg_tokenizer_decode(mg, (const int[]){17, 54688}, 2, true, &text, &err),
                 DG_E_INPUT);
    CHECK_CONTAINS(err.msg, "id 54688 at position 1");
    CHECK(text == NULL);
    CHECK_INT_EQ(dg_tokenizer_decode(mg, (const int[]){-1}, 1, false, &text, &err), DG_E_INPUT);
    CHECK_INT_EQ(dg_tokenizer_decode(mg, NULL, DG_TOKENIZER_MAX_IDS + 1, false, &text, &err),
                 DG_E_INPUT);
    CHECK(dg_tokenizer_token(mg, DG_SIDE_TARGET, 54688) == NULL);
    expect_decode(mg, NULL, 0, true, "");
    /* pad (54687) dropped with skip, kept as "<pad> " without: HF convert_tokens_to_string */
    expect_decode(mg, (const int[]){54687, 17, 0}, 3, true, "a");
    expect_decode(mg, (const int[]){54687, 17, 0}, 3, false, "<pad> a</s>");
    dg_tokenizer_free(mg);
}

/* Separate vocabularies: no shared folder has them, so this fixture pairs en-mg's .spm files
 * with two small vocabularies. Expected values follow MarianTokenizer (4.40):
 *   - pieces map through current_encoder: vocab.json on the source side, target_vocab.json on
 *     the target side (_switch_to_target_mode), a miss giving that vocabulary's <unk>;
 *   - supported_language_codes is [] when separate_vocabs is set;
 *   - decoding uses `decoder`, the inverse of target_vocab.json; an id it lacks reads
 *     unk_token, which convert_tokens_to_string then writes as a special token ("<unk> "). */
static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_separate_vocabs(void)
{
    const char *dir = DG_BUILD_DIR "/tokenizer-fixtures";
    mkdir(dir, 0755);
    char spm[512];
    snprintf(spm, sizeof spm, "%s/source.spm", dir);
    unlink(spm);
    CHECK(symlink(TOK_DIR "opus-mt-en-mg/source.spm", spm) == 0);
    snprintf(spm, sizeof spm, "%s/target.spm", dir);
    unlink(spm);
    CHECK(symlink(TOK_DIR "opus-mt-en-mg/target.spm", spm) == 0);
    write_file(dir, "vocab.json",
               "{\"</s>\": 0, \"<unk>\": 1, \"<pad>\": 2, \"\\u2581a\": 3, \"\\u2581b\": 4, "
               "\">>xx<<\": 5}");
    write_file(dir, "target_vocab.json",
               "{\"</s>\": 0, \"<unk>\": 1, \"<pad>\": 2, \"\\u2581b\": 3, \"\\u2581c\": 5}");
    write_file(dir, "tokenizer_config.json",
               "{\"separate_vocabs\": true, \"target_lang\": \"xx\"}");
    dg_err err = {0};
    dg_tokenizer *t = dg_tokenizer_load(dir, &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t)
        return;
    /* both .spm give ▁a ▁b ▁c for "a b c" (spm_encode) */
    expect_ids(t, DG_SIDE_SOURCE, "a b c", 5, (const int[]){3, 4, 1, 0, -2});
    expect_ids(t, DG_SIDE_TARGET, "a b c", 5, (const int[]){1, 3, 5, 0, -2});
    expect_ids(t, DG_SIDE_SOURCE, ">>xx<< a", 8, (const int[]){5, 3, 0, -2});
    expect_ids(t, DG_SIDE_TARGET, ">>xx<< a", 8, (const int[]){1, 1, 0, -2});
    CHECK_INT_EQ(dg_tokenizer_n_langs(t, DG_SIDE_TARGET), 0);
    CHECK_INT_EQ(dg_tokenizer_vocab_size(t, DG_SIDE_SOURCE), 6);
    CHECK_INT_EQ(dg_tokenizer_vocab_size(t, DG_SIDE_TARGET), 5);
    CHECK_INT_EQ(dg_tokenizer_id_limit(t, DG_SIDE_TARGET), 6);
    CHECK_STR_EQ(dg_tokenizer_token(t, DG_SIDE_SOURCE, 3), "\xe2\x96\x81" "a");
    CHECK_STR_EQ(dg_tokenizer_token(t, DG_SIDE_TARGET, 3), "\xe2\x96\x81" "b");
    expect_decode(t, (const int[]){3, 5, 0}, 3, true, "b c");
    expect_decode(t, (const int[]){3, 5, 0}, 3, false, "b c</s>");
    expect_decode(t, (const int[]){4}, 1, true, "<unk>"); /* 4: a hole in target_vocab.json */
    char *text = NULL;
    CHECK_INT_EQ(dg_tokenizer_decode(t, (const int[]){6}, 1, true, &text, &err), DG_E_INPUT);
    dg_tokenizer_free(t);
}

/* clean_up_tokenization: pieces ▁I ▁' m ▁we ▁' ve ▁they ▁' re ▁it ▁' s ▁don ▁n ' t ▁! ▁. ▁? ▁it
 * ▁' ▁I join to "I 'm we 've they 're it 's don n't ! . ? it ' I"; the expected text is that
 * string after HF's chain of str.replace calls, computed in Python. With
 * clean_up_tokenization_spaces false (fixture: en-mg files + that flag) the join stays as is,
 * and the golden "Quelle heure est-il ?" line keeps its " ?". */
static void test_cleanup(void)
{
    static const int ids[] = {47,  86, 116, 73,  86,   762, 94,   86,   363, 66, 86,
                              13, 774, 415, 2,   102, 4789, 170, 2037, 66,  86, 47};
    static const int quelle[] = {6859, 7217, 83, 5040, 28, 1967, 14, 1165, 2037, 0};
    const int n = (int)(sizeof ids / sizeof *ids);
    dg_tokenizer *mg = load("opus-mt-en-mg");
    if (mg)
        expect_decode(mg, ids, n, true, "I'm we've they're it's donn't!.? it'I");
    dg_tokenizer_free(mg);

    const char *dir = DG_BUILD_DIR "/tokenizer-fixtures-nocleanup";
    mkdir(dir, 0755);
    static const char *const files[] = {"source.spm", "target.spm", "vocab.json"};
    for (int i = 0; i < 3; i++) {
        char from[512], to[512];
        snprintf(from, sizeof from, "%sopus-mt-en-mg/%s", TOK_DIR, files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        unlink(to);
        CHECK(symlink(from, to) == 0);
    }
    write_file(dir, "tokenizer_config.json", "{\"clean_up_tokenization_spaces\": false}");
    dg_err err = {0};
    dg_tokenizer *t = dg_tokenizer_load(dir, &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t)
        return;
    expect_decode(t, ids, n, true, "I 'm we 've they 're it 's don n't ! . ? it ' I");
    expect_decode(t, quelle, 10, true, "Quelle heure est-il ?");
    dg_tokenizer_free(t);
}

static void test_load_errors(void)
{
    dg_err err = {0};
    CHECK(dg_tokenizer_load("/nonexistent-dragoman-dir", &err) == NULL);
    CHECK_INT_EQ(err.code, DG_E_IO);
    const char *dir = DG_BUILD_DIR "/tokenizer-fixtures-bad";
    mkdir(dir, 0755);
    write_file(dir, "tokenizer_config.json",
               "{\"tokenizer_class\": \"MarianTokenizer\", \"separate_vocabs\": \"yes\"}");
    CHECK(dg_tokenizer_load(dir, &err) == NULL);
    CHECK_INT_EQ(err.code, DG_E_CONFIG);
    CHECK_CONTAINS(err.msg, "separate_vocabs must be true or false");
    write_file(dir, "tokenizer_config.json", "{\"tokenizer_class\": \"MarianTokenizer\", "
                                              "\"additional_special_tokens\": [\"<x>\"]}");
    CHECK(dg_tokenizer_load(dir, &err) == NULL);
    CHECK_INT_EQ(err.code, DG_E_UNSUPPORTED);
    write_file(dir, "tokenizer_config.json", "{\"tokenizer_class\": \"MarianTokenizer\"}");
    write_file(dir, "vocab.json", "{\"</s>\": 0, \"<unk>\": -4}");
    CHECK(dg_tokenizer_load(dir, &err) == NULL);
    CHECK_INT_EQ(err.code, DG_E_FORMAT);
    CHECK_CONTAINS(err.msg, "id -4 of \"<unk>\"");
    write_file(dir, "vocab.json", "{\"</s>\": 0, \"<unk>\": 1}");
    CHECK(dg_tokenizer_load(dir, &err) == NULL);
    CHECK_INT_EQ(err.code, DG_E_CONFIG);
    CHECK_CONTAINS(err.msg, "pad_token \"<pad>\" is not in the vocabulary");
    write_file(dir, "vocab.json", "[1, 2]");
    CHECK(dg_tokenizer_load(dir, &err) == NULL);
    CHECK_INT_EQ(err.code, DG_E_FORMAT);
    write_file(dir, "vocab.json", "{\"</s>\": 0, \"<unk>\": 1, \"<pad>\": 2}");
    write_file(dir, "source.spm", "not a sentencepiece model");
    CHECK(dg_tokenizer_load(dir, &err) == NULL);
    CHECK_INT_EQ(err.code, DG_E_FORMAT);
    CHECK_CONTAINS(err.msg, "source.spm");
}

/* Concurrent encode + decode on one tokenizer, each thread checking the golden lines. */
typedef struct {
    const dg_tokenizer *t;
    const json_t *lines;
    int failures;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    for (int rep = 0; rep < 3; rep++) {
        size_t i;
        json_t *g;
        json_array_foreach(a->lines, i, g) a->failures += !golden_line(a->t, g);
    }
    return NULL;
}

static void test_threads(void)
{
    dg_tokenizer *t = load("opus-mt-fr-en-ft");
    json_t *lines = read_golden("opus-mt-fr-en-ft");
    thread_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){t, lines, 0};
        CHECK(pthread_create(&th[i], NULL, thread_main, &args[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT_EQ(args[i].failures, 0);
    }
    json_decref(lines);
    dg_tokenizer_free(t);
}

int main(void)
{
    test_golden();
    test_utf8();
    test_spaces();
    test_encode_cases();
    test_decode_errors();
    test_separate_vocabs();
    test_cleanup();
    test_load_errors();
    test_threads();
    return test_summary();
}
