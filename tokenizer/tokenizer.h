/* DESIGN: the tokenizer subsystem's public header. A dg_tokenizer reproduces the slow Hugging
 * Face tokenizer (transformers 4.40) a checkpoint folder was saved with, picked from
 * tokenizer_config.json's tokenizer_class (else config.json's model_type, else the files present):
 *   - MarianTokenizer: source.spm, target.spm, vocab.json (+ target_vocab.json when
 *     tokenizer_config.json says `separate_vocabs`);
 *   - T5Tokenizer: spiece.model, `<extra_id_N>` tokens at the end of the vocabulary, legacy mode
 *     as tokenizer_config.json says (absent = legacy), `</s>` appended;
 *   - BartTokenizer: byte-level BPE from vocab.json + merges.txt, `<s> ... </s>`;
 *   - MBartTokenizer (`tokens </s> en_XX`), MBart50Tokenizer (`en_XX tokens </s>`),
 *     NllbTokenizer (`eng_Latn tokens </s>`): sentencepiece.bpe.model with the fairseq offset;
 *   - M2M100Tokenizer: sentencepiece.bpe.model + vocab.json, `__en__ tokens </s>`.
 * It is read-only after dg_tokenizer_load and may be shared by any number of threads.
 *
 * Usage:
 *     dg_err err;
 *     dg_tokenizer *tok = dg_tokenizer_load("models/opus-mt-en-de", &err);
 *     if (!tok) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *     int *ids, n;
 *     if (dg_tokenizer_encode(tok, DG_SIDE_SOURCE, "Hello.", 6, &ids, &n, &err) == DG_OK) {
 *         ... ids framed as HF `tokenizer("Hello.")` frames them ...
 *         free(ids);
 *     }
 *     char *text;
 *     if (dg_tokenizer_decode(tok, out_ids, out_n, true, &text, &err) == DG_OK) free(text);
 *     dg_tokenizer_free(tok);
 *
 * Encoding (HF `tokenizer(text)` / `tokenizer(text_target=text)`): added-token strings (special
 * tokens, `<extra_id_N>`, language codes the folder registers) are split out of the text first,
 * leftmost-longest, and become their ids; whitespace next to an lstrip/rstrip token is dropped;
 * the rest goes through the model (SentencePiece or BPE). Marian: in each remaining segment a
 * leading `>>xx<<` (Python regex `>>.+<<`, greedy, not across a newline) is one token and every
 * match of that regex is deleted; EOS is appended, so "" -> [eos].
 *
 * Decoding (HF `tokenizer.decode(ids, skip_special_tokens=...)`): the pieces are joined as the
 * class does (SentencePiece decode, "▁" replacement, or bytes for BART), special tokens are
 * dropped when skip_special is set, and, unless tokenizer_config.json turns it off, the English
 * clean_up_tokenization replacements (" ." -> "." etc.) are applied. Marian decodes with the
 * target side.
 *
 * Languages: a model lists the languages it accepts per side, in its own spelling ("en_XX",
 * "en" for M2M100, "eng_Latn", ">>deu<<" for multi-target OPUS-MT, "en" from a T5
 * task_specific_params "translation_en_to_de"), each with an ISO 639-1 code where one exists.
 * dg_tokenizer_find_lang maps what a client sends ("de", "deu", "de_DE", "__de__") to one of them.
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

typedef enum {
    DG_TOK_MARIAN,
    DG_TOK_T5,
    DG_TOK_BART,
    DG_TOK_MBART,
    DG_TOK_MBART50,
    DG_TOK_M2M100,
    DG_TOK_NLLB
} dg_tokenizer_kind;

/* Loads the tokenizer folder dir; NULL on failure with err set (DG_E_IO for a missing file,
 * DG_E_MISSING for a folder without slow-tokenizer files (e.g. only tokenizer.json),
 * DG_E_FORMAT / DG_E_CONFIG for malformed ones, DG_E_UNSUPPORTED for tokenizer classes and
 * tokenizer_config.json options Dragoman does not implement: single_word tokens, sampling). */
dg_tokenizer *dg_tokenizer_load(const char *dir, dg_err *err);
void dg_tokenizer_free(dg_tokenizer *t);

/* The class the folder was read as, and its HF name ("T5Tokenizer"). */
dg_tokenizer_kind dg_tokenizer_get_kind(const dg_tokenizer *t);
const char *dg_tokenizer_kind_name(dg_tokenizer_kind kind);

/* Encodes text[0..len) (valid UTF-8, may contain NUL bytes) for the encoder (DG_SIDE_SOURCE)
 * or as decoder labels (DG_SIDE_TARGET: Marian's target.spm / target_vocab.json; the tgt_lang
 * framing of the multilingual kinds), with the default languages. On success *ids is a malloc'd
 * array of *n ids. */
dg_code dg_tokenizer_encode(const dg_tokenizer *t, dg_side side, const char *text, size_t len,
                            int **ids, int *n, dg_err *err);

/* Encodes source text for translating from language src to tgt (indexes from
 * dg_tokenizer_find_lang; -1 = the model's default): the source language token framing
 * (mBART, mBART-50, M2M100, NLLB), the `>>tgt<< ` prefix (multi-target Marian), the
 * task_specific_params prefix (T5, DG_E_INPUT when the model has no task for the pair). */
dg_code dg_tokenizer_encode_pair(const dg_tokenizer *t, int src, int tgt, const char *text,
                                 size_t len, int **ids, int *n, dg_err *err);

/* Cuts encoded source ids[0..*n) to at most limit ids as HF's truncation=True does: the text
 * ids are cut, the special ids the class appends (</s>, or </s> lang for mBART) are kept. */
void dg_tokenizer_truncate(const dg_tokenizer *t, int *ids, int *n, int limit);

/* Decodes n target-side ids into a malloc'd NUL-terminated string. skip_special drops every
 * special token (HF all_special_ids: EOS, UNK, PAD, BOS, language codes, ...). Ids outside [0, dg_tokenizer_id_limit(t, DG_SIDE_TARGET)) are DG_E_INPUT. */
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

/* Languages the model accepts on side (DG_SIDE_SOURCE: the text's language, DG_SIDE_TARGET:
 * the translation's), in model order. dg_tokenizer_lang is the model's code, dg_tokenizer_lang_iso
 * the ISO 639-1 code when there is one (else the model's code; unique within a side). */
int dg_tokenizer_n_langs(const dg_tokenizer *t, dg_side side);
const char *dg_tokenizer_lang(const dg_tokenizer *t, dg_side side, int i);
const char *dg_tokenizer_lang_iso(const dg_tokenizer *t, dg_side side, int i);
/* tokenizer_config.json's src_lang / tgt_lang (or the class default) as an index; -1 when the
 * model has none, or when a side has exactly one language: that one. */
int dg_tokenizer_default_lang(const dg_tokenizer *t, dg_side side);
/* Maps a client's language code to an index on side: the model's code or token ("de_DE",
 * "__de__", ">>deu<<", "deu_Latn"), an ISO 639-1 or 639-3 code ("de", "deu"), optionally with a
 * script or region ("zh-Hant", "pt_BR"). DG_E_INPUT naming the languages available otherwise. */
dg_code dg_tokenizer_find_lang(const dg_tokenizer *t, dg_side side, const char *request, int *i,
                               dg_err *err);
/* Whether the model translates src -> tgt (T5: a task_specific_params entry; mBART en-ro style:
 * its one pair; the multilingual kinds: any two languages). */
bool dg_tokenizer_pair_ok(const dg_tokenizer *t, int src, int tgt);
/* The id generation must force as the first target token for language tgt (HF
 * forced_bos_token_id: mBART-50, M2M100, NLLB), or -1 when the model selects the target
 * language otherwise (Marian `>>xx<<`, T5 prefix, mBART's decoder_start_token_id). */
int dg_tokenizer_forced_bos(const dg_tokenizer *t, int tgt);

#endif
