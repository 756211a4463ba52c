/* The wire format: translation requests (Dragoman's /v1/translate, LibreTranslate's /translate
 * as JSON or form data) parsed and validated into dg_translate_request, and translations
 * rendered back into response bodies. No model knowledge here: option ranges that depend on
 * the model are checked by dg_gen_apply in the route handler. */
#ifndef DG_API_JSON_H
#define DG_API_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "server/api/api_error.h"
#include "server/api/gen_options.h"

typedef struct {
    dg_gen_values gen;          /* the generation options given (server/api/gen_options.h) */
    int timeout_ms;             /* 0 = the server's --timeout-ms (a larger value is capped) */
    char *target_prefix;        /* owned; gen.target_prefix points here */
    bool return_scores;
    bool truncate;
    bool no_preserve;           /* "preserve": false: protected spans are translated as text */
    bool return_alignment;      /* word alignment of the best translation */
} dg_translate_options;

typedef struct {
    int n_texts;
    char **texts;               /* valid UTF-8, no NUL */
    bool text_is_array;         /* answer with an array (LibreTranslate mirrors the input) */
    char *model, *source, *target; /* NULL when absent */
    bool stream;                /* answer as server-sent events, a sentence at a time */
    bool html;                  /* "format": "html": each text is an HTML page or fragment */
    dg_translate_options opts;
} dg_translate_request;

/* Returns 0 and fills r, or the HTTP status with e set; r is freed either way by
 * dg_translate_request_free. */
int dg_api_parse_translate(const char *body, size_t len, int max_texts, dg_translate_request *r,
                           dg_api_error *e);
void dg_translate_request_free(dg_translate_request *r);

/* Checks UTF-8 (shortest forms, no surrogates, no NUL); returns the offset of the first bad
 * byte, or -1 when valid. */
long dg_utf8_invalid_at(const char *s, size_t len);

/* One translated text: best first, n_hyps >= 1. */
typedef struct {
    int n_hyps;
    char **hyps;
    double score;               /* of hyps[0] */
} dg_translation;

/* Word alignment of a text's best translation (options.return_alignment). */
typedef struct {
    int n_pairs;
    int (*pairs)[4];            /* source start, end, target start, end in code points */
} dg_word_alignment;

/* Response bodies, malloc'ed; NULL when out of memory. */
char *dg_api_translate_response(const char *model, const dg_translation *t, int n,
                                bool return_scores);
/* The same with each text's "alignment" (al[i]; al NULL: none). */
char *dg_api_translate_response_aligned(const char *model, const dg_translation *t,
                                        const dg_word_alignment *al, int n, bool return_scores);
/* The language "auto" resolved to, as LibreTranslate reports it (confidence 0..100). */
typedef struct {
    char language[16];
    double confidence;
} dg_detected_language;

/* LibreTranslate's reply: translatedText (a string, or an array when the input was one),
 * alternatives (distinct, when asked), detectedLanguage (when detected is not NULL). */
char *dg_api_lt_response(const dg_translation *t, int n, bool as_array, int alternatives,
                         const dg_detected_language *detected);

#endif
