/* DESIGN: language identification for the server's /detect and `source: "auto"`, as a small C
 * API over Debian's libcld2 (Compact Language Detector 2, Google's detector from Chromium): a
 * naive-Bayes scorer over quadgrams and whole words, trained on a large web corpus, that knows
 * 83 languages and stays accurate on strings of a few words, which is what translation
 * requests mostly are. libexttextcat (n-gram rank profiles, Cavnar & Trenkle) needs about a
 * paragraph before its ranking settles and answers "unknown" on short UI strings; see the
 * README for the measured comparison. The detector is stateless and thread-safe. */
#ifndef DG_TEXT_DETECT_H
#define DG_TEXT_DETECT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "common/error.h"

#define DG_DETECT_MAX 3

typedef struct {
    char code[8];       /* ISO 639-1 where one exists ("de"), else ISO 639-3 */
    double confidence;  /* 0..100: share of the text's letters in this language */
} dg_lang_guess;

/* Guesses the language of the UTF-8 text s[0..len): up to max (<= DG_DETECT_MAX) guesses, best
 * first, into out. Returns the number of guesses (0 when the text holds nothing to judge, such
 * as digits, punctuation or emoji), or -1 with err set (DG_E_INPUT: not UTF-8). */
int dg_detect_language(const char *s, size_t len, dg_lang_guess *out, int max, dg_err *err);

#ifdef __cplusplus
}
#endif

#endif
