/* DESIGN: language identification for the server's /detect and `source: "auto"`, as a small C
 * API over two Debian detectors. libcld2 (Compact Language Detector 2, from Chromium: naive
 * Bayes over quadgrams and whole words, 83 languages) decides; on short texts, where its small
 * tables are sparse and it says "English, 98%, reliable" of Spanish, libexttextcat (Cavnar &
 * Trenkle n-gram rank profiles, 160 languages) checks it: when CLD2's language is not among
 * the ones textcat cannot tell apart, textcat's ranking goes first. Like LibreTranslate, the
 * caller may restrict the answer to the languages it can use. How this was chosen and measured
 * (a development set from other Debian catalogs than the test set's): tests/detect/README.md.
 * The detector is thread-safe; textcat's profiles load on first use. */
#ifndef DG_TEXT_DETECT_H
#define DG_TEXT_DETECT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "common/error.h"

#define DG_DETECT_MAX 3

typedef struct {
    char code[8];       /* ISO 639-1 where one exists ("de"), else ISO 639-3 */
    double confidence;  /* 0..100, non-increasing along the guesses */
} dg_lang_guess;

/* Whether the caller can use language code (e.g. a model reads it). */
typedef bool (*dg_lang_filter)(const char *code, void *ctx);

/* Guesses the language of the UTF-8 text s[0..len): up to max (<= DG_DETECT_MAX) guesses, best
 * first, into out. With accept, only languages it accepts are guessed, unless it accepts none of
 * the candidates: then the unrestricted guesses come back (so the caller can name the language
 * it lacks). Returns the number of guesses (0 when the text holds nothing to judge, such as
 * digits, punctuation or emoji), or -1 with err set (DG_E_INPUT: not UTF-8; DG_E_IO: textcat's
 * profiles are missing). */
int dg_detect_language(const char *s, size_t len, dg_lang_filter accept, void *ctx,
                       dg_lang_guess *out, int max, dg_err *err);

#ifdef __cplusplus
}
#endif

#endif
