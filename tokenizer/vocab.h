/* DESIGN: a Marian vocab.json ({"piece": id, ...}) held as an open-addressing hash (piece -> id)
 * and a dense table (id -> piece). All piece bytes live in one arena; after loading the
 * structure is read-only and safe to share across threads.
 *
 * Ids must be integers in [0, DG_VOCAB_MAX_ID); a hostile file cannot make the id table
 * larger than that. When two pieces share an id the later one in the file owns the id -> piece
 * direction, as Python's `{v: k for k, v in encoder.items()}` does. */
#ifndef DG_VOCAB_H
#define DG_VOCAB_H

#include <stddef.h>

#include "common/error.h"

#define DG_VOCAB_MAX_ID (1 << 24)

typedef struct dg_vocab dg_vocab;

/* Parses the JSON file at path. DG_E_IO (unreadable), DG_E_FORMAT (not an object of integer ids,
 * an id out of range, a key with a NUL byte). */
dg_code dg_vocab_load(const char *path, dg_vocab **out, dg_err *err);
void dg_vocab_free(dg_vocab *v);

/* Id of the piece s[0..len), or -1 when absent. */
int dg_vocab_find(const dg_vocab *v, const char *s, size_t len);

/* The piece (NUL-terminated) that owns id, or NULL when id is negative, too large or unused. */
const char *dg_vocab_piece(const dg_vocab *v, int id);

/* Number of entries (Python len(encoder)). */
int dg_vocab_size(const dg_vocab *v);

/* One more than the largest id. */
int dg_vocab_id_limit(const dg_vocab *v);

/* Entries in file order: the i-th piece (0 <= i < size). */
const char *dg_vocab_entry(const dg_vocab *v, int i);

#endif
