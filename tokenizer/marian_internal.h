/* DESIGN: the dg_marian struct (a MarianTokenizer), shared by marian_load.c (building it from a folder) and
 * marian.c (encode/decode). Not a public header: callers use tokenizer/tokenizer.h.
 *
 * Id spaces: HF registers the special tokens as "added tokens" whose ids come from vocab.json
 * (or from tokenizer_config.json's added_tokens_decoder), so special_id[] is always a source-
 * vocabulary id, even when the target side has its own vocabulary. */
#ifndef DG_MARIAN_INTERNAL_H
#define DG_MARIAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "tokenizer/spm.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

enum { DG_SP_EOS, DG_SP_UNK, DG_SP_PAD, DG_SP_N };

struct dg_marian {
    dg_spm *spm[2];          /* [dg_side] source.spm, target.spm */
    dg_vocab *vocab[2];      /* [dg_side]; both point to vocab.json unless separate */
    bool separate;           /* separate_vocabs: vocab[TARGET] is target_vocab.json */
    bool cleanup;            /* clean_up_tokenization_spaces */
    char *special[DG_SP_N];  /* token strings, e.g. "</s>" */
    size_t special_len[DG_SP_N];
    int special_id[DG_SP_N]; /* HF added-token ids (source vocabulary) */
    int unk_id[2];           /* [dg_side] id a piece missing from that side's vocabulary gets */
    int id_limit[2];         /* [dg_side] */
    int *codes;              /* [n_codes] vocab entry indices of the ">>xx<<" language codes */
    int n_codes;
};

/* The MarianTokenizer behind a dg_tokenizer of that kind; each function is the dg_tokenizer_*
 * one of the same name (semantics in tokenizer.h). */
typedef struct dg_marian dg_marian;
dg_marian *dg_marian_load(const char *dir, dg_err *err);
void dg_marian_free(dg_marian *t);
dg_code dg_marian_encode(const dg_marian *t, dg_side side, const char *text, size_t len, int **ids,
                         int *n, dg_err *err);
dg_code dg_marian_decode(const dg_marian *t, const int *ids, int n, bool skip_special, char **text,
                         dg_err *err);
const char *dg_marian_token(const dg_marian *t, dg_side side, int id);
int dg_marian_vocab_size(const dg_marian *t, dg_side side);
int dg_marian_id_limit(const dg_marian *t, dg_side side);
int dg_marian_eos_id(const dg_marian *t);
int dg_marian_unk_id(const dg_marian *t);
int dg_marian_pad_id(const dg_marian *t);
int dg_marian_n_lang_codes(const dg_marian *t);
const char *dg_marian_lang_code(const dg_marian *t, int i);

#endif
