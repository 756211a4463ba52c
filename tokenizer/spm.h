/* DESIGN: a small C API over libsentencepiece, the one C++ dependency: load a .spm model,
 * text -> pieces, pieces -> text, piece <-> spm id. Marian and M2M100 map pieces through
 * vocab.json; T5 uses the spm ids as they are, mBART/NLLB shift them by the fairseq offset.
 *
 * Pieces are handed out as (pointer, length) because a piece may contain a NUL byte (an input
 * "\0" surfaces as an unknown piece). No C++ exception crosses into C: every failure becomes a
 * dg_code. A loaded dg_spm is read-only; encode/decode may run concurrently on one instance
 * (SentencePieceProcessor's Encode/Decode are const and keep no per-call state in the object). */
#ifndef DG_SPM_H
#define DG_SPM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "common/error.h"

typedef struct dg_spm dg_spm;

/* Loads a serialized SentencePiece model. DG_E_IO when the file cannot be read, DG_E_FORMAT when
 * it is not a model. */
dg_code dg_spm_load(const char *path, dg_spm **out, dg_err *err);
void dg_spm_free(dg_spm *spm);

/* As dg_spm_load, with the model's normalizer_spec.add_dummy_prefix turned off, as HF's
 * non-legacy T5Tokenizer.get_spm_processor does (it edits the serialized ModelProto). */
dg_code dg_spm_load_no_dummy_prefix(const char *path, dg_spm **out, dg_err *err);

/* Number of pieces (Python len(sp)). */
int dg_spm_size(const dg_spm *spm);
/* sp.piece_to_id(piece): the unk id for pieces the model lacks. */
int dg_spm_piece_to_id(const dg_spm *spm, const char *piece, size_t len);
/* sp.IdToPiece(id), NUL-terminated and owned by the model (*len bytes); NULL when id is outside
 * [0, dg_spm_size). */
const char *dg_spm_id_to_piece(const dg_spm *spm, int id, size_t *len);

/* Receives each piece in order; a non-DG_OK return stops the encoding and is passed through
 * (the callback sets err itself). */
typedef dg_code (*dg_spm_piece_fn)(void *ctx, const char *piece, size_t len, dg_err *err);

/* Encodes text (len bytes, valid UTF-8, may contain NUL) like Python's
 * `sp.encode(text, out_type=str)`: no sampling, no BOS/EOS, unknown characters come back as
 * their surface text. */
dg_code dg_spm_encode(const dg_spm *spm, const char *text, size_t len, dg_spm_piece_fn fn,
                      void *ctx, dg_err *err);

/* Joins n pieces like Python's `sp.decode_pieces(pieces)` into a malloc'd NUL-terminated string
 * (*out, *out_len bytes without the NUL); the caller frees it. Pieces the model does not know are
 * copied through verbatim, as SentencePiece does. */
dg_code dg_spm_decode(const dg_spm *spm, const char *const *pieces, const size_t *lens, size_t n,
                      char **out, size_t *out_len, dg_err *err);

#ifdef __cplusplus
}
#endif

#endif
