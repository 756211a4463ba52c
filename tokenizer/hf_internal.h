/* DESIGN: the slow Hugging Face tokenizers other than Marian (transformers 4.40), as one struct
 * whose behaviour is data: T5Tokenizer, BartTokenizer, MBartTokenizer, MBart50Tokenizer,
 * M2M100Tokenizer and NllbTokenizer all run PreTrainedTokenizer.tokenize (split out added
 * tokens, strip around lstrip/rstrip ones, tokenize the rest) and PreTrainedTokenizer._decode;
 * they differ in how a piece becomes an id (the piece map), how the text is cut into pieces
 * (SentencePiece or byte-level BPE), how the ids are framed, and how pieces are joined back.
 * hf_load.c builds it from a folder, hf.c encodes and decodes. Not a public header. */
#ifndef DG_HF_INTERNAL_H
#define DG_HF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "tokenizer/spm.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

typedef struct dg_bpe dg_bpe;

/* How a piece maps to an id and back (HF _convert_token_to_id / _convert_id_to_token). */
typedef enum {
    DG_PMAP_SPM,     /* T5: the spm id itself */
    DG_PMAP_FAIRSEQ, /* mBART, NLLB: spm id + 1; spm's unk (0) -> unk_token_id */
    DG_PMAP_VOCAB    /* M2M100, BART: vocab.json, missing -> unk */
} dg_piece_map;

/* How the pieces of one plain-text run are joined (HF convert_tokens_to_string). */
typedef enum {
    DG_JOIN_SPM,        /* M2M100: sp.decode per run, specials inserted as they are */
    DG_JOIN_SPM_SPACED, /* T5, mBART-50: as SPM, plus a space before a special run */
    DG_JOIN_REPLACE,    /* mBART, NLLB: "".join, "▁" -> " ", strip */
    DG_JOIN_BYTES       /* BART: byte-level pieces back to bytes, decoded with errors=replace */
} dg_join;

/* Where the language / special ids go around the text ids. */
typedef enum {
    DG_FRAME_EOS,          /* T5: ids </s> (not doubled when the text already ends with it) */
    DG_FRAME_BOS_EOS,      /* BART: <s> ids </s> */
    DG_FRAME_EOS_LANG,     /* mBART, NLLB legacy_behaviour: ids </s> lang */
    DG_FRAME_LANG_EOS      /* mBART-50, M2M100, NLLB: lang ids </s> */
} dg_frame;

typedef struct {
    char *s;
    size_t len;
    int id;
    bool lstrip, rstrip;
} dg_added;

/* A language the model knows: its code as HF's src_lang/tgt_lang take it ("en_XX", "en" for
 * M2M100, "eng_Latn"), the token string ("__en__") and its id. */
typedef struct {
    char *code;
    char *token;
    int id;
} dg_hf_lang;

/* A T5 task_specific_params "translation_en_to_de" entry. */
typedef struct {
    char src[16], tgt[16];
    char *prefix;
} dg_t5_task;

enum { DG_HS_BOS, DG_HS_EOS, DG_HS_UNK, DG_HS_SEP, DG_HS_PAD, DG_HS_CLS, DG_HS_MASK, DG_HS_N };

typedef struct dg_hf {
    dg_tokenizer_kind kind;
    dg_piece_map pmap;
    dg_join join;
    dg_frame frame;
    dg_spm *spm;     /* every kind but BART */
    dg_vocab *vocab; /* M2M100, BART */
    dg_bpe *bpe;     /* BART */
    bool cleanup;    /* clean_up_tokenization_spaces */
    bool legacy;     /* T5 legacy mode */
    bool prefix_space; /* add_prefix_space (T5 non-legacy, BART) */
    int unk_len;     /* T5 non-legacy: pieces of sp.encode(unk_token) */

    dg_added *added; /* added_tokens_decoder, sorted by id */
    int n_added;
    int first_by_byte[257]; /* added tokens sorted by first byte: index range per byte value */
    int *by_byte;

    char *sp_str[DG_HS_N]; /* special token strings (NULL when the class has none) */
    int sp_id[DG_HS_N];
    char **extra_special; /* additional_special_tokens */
    int n_extra_special;
    int *special_ids;     /* all_special_ids, sorted */
    int n_special_ids;

    int vocab_size; /* HF vocab_size */
    int id_limit;   /* one more than the largest id decode accepts */

    dg_hf_lang *langs;
    int n_langs;
    int src_lang, tgt_lang; /* defaults: indexes into langs, or -1 */
    dg_t5_task *tasks;      /* T5 */
    int n_tasks;
} dg_hf;

dg_hf *dg_hf_load(const char *dir, dg_tokenizer_kind kind, dg_err *err);
void dg_hf_free(dg_hf *h);
/* lang: index into h->langs for the framing language (-1: the default); side picks src/tgt
 * framing for the multilingual kinds. */
dg_code dg_hf_encode(const dg_hf *h, dg_side side, int lang, const char *text, size_t len,
                     int **ids, int *n, dg_err *err);
dg_code dg_hf_decode(const dg_hf *h, const int *ids, int n, bool skip_special, char **text,
                     dg_err *err);
/* The token string of id (added tokens first); NULL outside [0, id_limit). */
const char *dg_hf_token(const dg_hf *h, int id, size_t *len);
bool dg_hf_is_special_id(const dg_hf *h, int id);

/* Byte-level BPE (bpe.c): vocab.json + merges.txt, GPT-2 pre-tokenisation. */
dg_code dg_bpe_load(const char *merges_path, const dg_vocab *vocab, dg_bpe **out, dg_err *err);
void dg_bpe_free(dg_bpe *b);
/* Appends the ids of text's pieces (missing from vocab.json -> unk_id) through push. */
typedef dg_code (*dg_id_fn)(void *ctx, int id, dg_err *err);
dg_code dg_bpe_encode(dg_bpe *b, const char *text, size_t len, int unk_id, dg_id_fn push,
                      void *ctx, dg_err *err);
/* Maps the byte-level piece back to bytes, appended to *buf (grown with realloc). DG_E_INPUT
 * when the piece has a character outside the byte alphabet. */
dg_code dg_bpe_piece_bytes(const dg_bpe *b, const char *piece, size_t len, char **buf, size_t *n, size_t *cap,
                           dg_err *err);
/* Python bytes.decode("utf-8", errors="replace") of s[0..n) into a malloc'd string. */
char *dg_utf8_replace_invalid(const char *s, size_t n, size_t *out_len);

/* Class-order language code lists (lang_tables.c). */
extern const char *const dg_codes_mbart[], *const dg_codes_mbart50[], *const dg_codes_m2m100[],
    *const dg_codes_wmt21[], *const dg_codes_nllb[];
extern const int dg_codes_mbart_n, dg_codes_mbart50_n, dg_codes_m2m100_n, dg_codes_wmt21_n,
    dg_codes_nllb_n;

#endif
