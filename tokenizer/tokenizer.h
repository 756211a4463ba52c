/* DESIGN: the tokenizer subsystem's public header. A dg_tokenizer reproduces Hugging Face's slow
 * MarianTokenizer (transformers 4.40) on an OPUS-MT tokenizer folder: source.spm, target.spm,
 * vocab.json (+ target_vocab.json when tokenizer_config.json says `separate_vocabs`). It is
 * read-only after dg_tokenizer_load and may be shared by any number of threads.
 *
 * Usage:
 *     dg_err err;
 *     dg_tokenizer *tok = dg_tokenizer_load("models/opus-mt-en-de", &err);
 *     if (!tok) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *     int *ids, n;
 *     if (dg_tokenizer_encode(tok, DG_SIDE_SOURCE, "Hello.", 6, &ids, &n, &err) == DG_OK) {
 *         ... ids end with dg_tokenizer_eos_id(tok) ...
 *         free(ids);
 *     }
 *     char *text;
 *     if (dg_tokenizer_decode(tok, out_ids, out_n, true, &text, &err) == DG_OK) free(text);
 *     dg_tokenizer_free(tok);
 *
 * Encoding (HF `tokenizer(text)` / `tokenizer(text_target=text)`): the special-token strings
 * (`</s>`, `<unk>`, `<pad>`) are split out of the text first and become their ids; in each
 * remaining segment a leading `>>xx<<` (Python regex `>>.+<<`, greedy, not across a newline) is
 * one token, every match of that regex is deleted, the rest goes through SentencePiece and each
 * piece is looked up in the vocabulary (missing -> unk). EOS is appended, so "" -> [eos].
 *
 * Decoding (HF `tokenizer.decode(ids, skip_special_tokens=...)`): always the target side, as HF
 * does by default. Pieces between special tokens are joined by target.spm; each special token
 * is written as itself plus a space; "▁" becomes a space; the result is stripped of whitespace
 * (Python str.strip) and, unless tokenizer_config.json turns it off, the English
 * clean_up_tokenization replacements (" ." -> "." etc.) are applied.
 *
 * Limits (hostile input): encode accepts at most DG_TOKENIZER_MAX_INPUT bytes, decode at most
 * DG_TOKENIZER_MAX_IDS ids; beyond that, and for invalid UTF-8 or ids outside the vocabulary,
 * the calls fail with DG_E_INPUT and a message naming the offset or position. */
#ifndef DG_TOKENIZER_H
#define DG_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define DG_TOKENIZER_MAX_INPUT (1 << 20) /* bytes of text per encode call (1 MiB) */
#define DG_TOKENIZER_MAX_IDS (1 << 20)   /* ids per decode call */

typedef enum { DG_SIDE_SOURCE = 0, DG_SIDE_TARGET = 1 } dg_side;

typedef struct dg_tokenizer dg_tokenizer;

/* Loads the tokenizer folder dir; NULL on failure with err set (DG_E_IO for a missing file,
 * DG_E_FORMAT / DG_E_CONFIG for malformed ones, DG_E_UNSUPPORTED for tokenizer_config.json
 * options Dragoman does not implement: extra added tokens, stripping tokens, sampling). */
dg_tokenizer *dg_tokenizer_load(const char *dir, dg_err *err);
void dg_tokenizer_free(dg_tokenizer *t);

/* Encodes text[0..len) (valid UTF-8, may contain NUL bytes) for the encoder (DG_SIDE_SOURCE)
 * or as decoder labels (DG_SIDE_TARGET: target.spm, and target_vocab.json when the vocabularies
 * are separate). On success *ids is a malloc'd array of *n ids ending with EOS. */
dg_code dg_tokenizer_encode(const dg_tokenizer *t, dg_side side, const char *text, size_t len,
                            int **ids, int *n, dg_err *err);

/* Decodes n target-side ids into a malloc'd NUL-terminated string. skip_special drops EOS, UNK
 * and PAD. Ids outside [0, dg_tokenizer_id_limit(t, DG_SIDE_TARGET)) are DG_E_INPUT. */
dg_code dg_tokenizer_decode(const dg_tokenizer *t, const int *ids, int n, bool skip_special,
                            char **text, dg_err *err);

/* The token string of id on side (HF convert_ids_to_tokens): special tokens by name, then the
 * side's vocabulary; an id inside the range that no piece owns reads "<unk>" as in HF. NULL
 * when id is outside [0, dg_tokenizer_id_limit(t, side)). Valid as long as t. */
const char *dg_tokenizer_token(const dg_tokenizer *t, dg_side side, int id);

/* Entries of the side's vocabulary (HF vocab_size is the source one). */
int dg_tokenizer_vocab_size(const dg_tokenizer *t, dg_side side);
/* One more than the largest id that side can produce or decode. */
int dg_tokenizer_id_limit(const dg_tokenizer *t, dg_side side);

int dg_tokenizer_eos_id(const dg_tokenizer *t);
int dg_tokenizer_unk_id(const dg_tokenizer *t);
int dg_tokenizer_pad_id(const dg_tokenizer *t);

/* Target language codes a multilingual model accepts as a `>>xx<<` prefix (HF
 * supported_language_codes: vocab.json keys that start with ">>" and end with "<<", in file
 * order; none with separate vocabularies). */
int dg_tokenizer_n_lang_codes(const dg_tokenizer *t);
const char *dg_tokenizer_lang_code(const dg_tokenizer *t, int i);

#endif
