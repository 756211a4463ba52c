/* DESIGN: the report is built once as a jansson object and then either dumped as JSON or
 * printed as indented text by one generic walker, so the two forms cannot drift apart. Only
 * headers are read: dg_checkpoint_open parses them, dg_arch_check resolves and shape-checks
 * every tensor the architecture needs without converting data. The parameter count is
 * transformers' num_parameters() (see dg_arch_summary); the stored-value count beside it is
 * what the files hold for the bound tensors, so the difference is visible and explained. */
#include "models/inspect.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/arch.h"
#include "models/checkpoint.h"
#include "models/config.h"

static json_t *id_or_null(int id)
{
    return id < 0 ? json_null() : json_integer(id);
}

/* vocab.json's "<unk>" id, or -1 without a vocab.json (or without "<unk>" in it). */
static int unk_id(const char *dir)
{
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/vocab.json", dir) >= (int)sizeof path || stat(path, &st))
        return -1;
    json_t *v = json_load_file(path, 0, NULL);
    json_t *u = json_object_get(v, "<unk>");
    int id = json_is_integer(u) ? (int)json_integer_value(u) : -1;
    json_decref(v);
    return id;
}

static json_t *architecture(const dg_config *c, const dg_arch_quirks *q)
{
    json_t *a = json_object();
    int dh_e = c->d_kv ? c->d_kv : c->d_model / c->encoder_heads;
    int dh_d = c->d_kv ? c->d_kv : c->d_model / c->decoder_heads;
    json_object_set_new(a, "model_type", json_string(c->model_type));
    json_object_set_new(a, "d_model", json_integer(c->d_model));
    json_object_set_new(a, "encoder_layers", json_integer(c->encoder_layers));
    json_object_set_new(a, "decoder_layers", json_integer(c->decoder_layers));
    json_object_set_new(a, "encoder_attention_heads", json_integer(c->encoder_heads));
    json_object_set_new(a, "decoder_attention_heads", json_integer(c->decoder_heads));
    json_object_set_new(a, "head_size", json_integer(dh_e));
    json_object_set_new(a, "attention_width", json_pack("[i, i]", c->encoder_heads * dh_e,
                                                         c->decoder_heads * dh_d));
    json_object_set_new(a, "scale_attention", json_boolean(q->scale_attention));
    json_object_set_new(a, "encoder_ffn_dim", json_integer(c->encoder_ffn_dim));
    json_object_set_new(a, "decoder_ffn_dim", json_integer(c->decoder_ffn_dim));
    json_object_set_new(a, "gated_ffn", json_boolean(q->gated_ffn));
    json_object_set_new(a, "activation", json_string(dg_activation_name(q->activation)));
    json_object_set_new(a, "source_vocab_size", json_integer(c->vocab_size));
    json_object_set_new(a, "target_vocab_size", json_integer(c->target_vocab_size));
    json_object_set_new(a, "max_position_embeddings",
                        c->max_position_embeddings ? json_integer(c->max_position_embeddings) : json_null());
    /* null: positions relative (T5) or computed for any length (M2M100) */
    json_object_set_new(a, "max_input_tokens",
                        c->max_positions < DG_MAX_DIM ? json_integer(c->max_positions) : json_null());
    json_object_set_new(a, "positions", json_string(dg_pos_kind_name(q->positions)));
    if (q->positions == DG_POS_RELATIVE)
        json_object_set_new(a, "relative_attention", json_pack("{s:i, s:i}", "num_buckets", c->rel_buckets,
                                                               "max_distance", c->rel_max_distance));
    else
        json_object_set_new(a, "position_offset", json_integer(q->pos_offset));
    json_object_set_new(a, "scale_embedding", json_boolean(q->scale_embedding));
    json_object_set_new(a, "layernorm_embedding", json_boolean(q->embed_norm));
    json_object_set_new(a, "norm", json_string(q->rms_norm ? "rmsnorm" : "layernorm"));
    json_object_set_new(a, "normalize_before", json_boolean(q->normalize_before));
    json_object_set_new(a, "final_norms", json_boolean(q->final_norms));
    json_object_set_new(a, "share_encoder_decoder_embeddings", json_boolean(c->share_encoder_decoder_embeddings));
    json_object_set_new(a, "tie_word_embeddings", json_boolean(c->tie_word_embeddings));
    json_object_set_new(a, "lm_head_input_scale", json_real(q->scale_lm_input ? 1.0 / sqrt(c->d_model) : 1.0));
    json_object_set_new(a, "final_logits_bias", json_boolean(q->logits_bias));
    json_object_set_new(a, "layer_norm_eps", json_real(q->layer_norm_eps));
    return a;
}

static json_t *generation(const dg_config *c)
{
    json_t *bad = json_array();
    for (int i = 0; i < c->n_bad_words; i++)
        json_array_append_new(bad, json_pack("[i]", c->bad_words_ids[i]));
    json_t *stopping = c->early_stopping == 2 ? json_string("never") : json_boolean(c->early_stopping);
    return json_pack("{s:s, s:i, s:i, s:o, s:i, s:f, s:o, s:i, s:i, s:f, s:o, s:o, s:b, s:o}", "source",
                     c->gen_from_file ? "generation_config.json" : "config.json", "num_beams", c->num_beams,
                     "max_length", c->max_length, "max_new_tokens", id_or_null(c->max_new_tokens),
                     "min_length", c->min_length, "length_penalty", (double)c->length_penalty,
                     "early_stopping", stopping, "num_return_sequences",
                     c->num_return_sequences, "no_repeat_ngram_size", c->no_repeat_ngram_size,
                     "repetition_penalty", (double)c->repetition_penalty, "forced_bos_token_id",
                     id_or_null(c->forced_bos_token_id), "forced_eos_token_id",
                     id_or_null(c->forced_eos_token_id), "renormalize_logits", c->renormalize_logits,
                     "bad_words_ids", bad);
}

static json_t *storage(const dg_checkpoint *ck)
{
    bool seen[3] = {false, false, false};
    json_t *dtypes = json_array();
    for (int i = 0; i < dg_checkpoint_count(ck); i++) {
        dg_dtype t = dg_checkpoint_info(ck, i)->dtype;
        if (!seen[t])
            json_array_append_new(dtypes, json_string(dg_dtype_name(t)));
        seen[t] = true;
    }
    return json_pack("{s:s, s:i, s:I, s:o}", "format", dg_checkpoint_format(ck), "files",
                     dg_checkpoint_file_count(ck), "bytes", (json_int_t)dg_checkpoint_file_bytes(ck),
                     "dtypes", dtypes);
}

static json_t *report(const char *dir, const dg_config *c, const dg_checkpoint *ck, const dg_arch_summary *s,
                      const unsigned char *unused)
{
    json_t *names = json_array();
    for (int i = 0; i < dg_checkpoint_count(ck); i++)
        if (unused[i])
            json_array_append_new(names, json_string(dg_checkpoint_info(ck, i)->name));
    return json_pack(
        "{s:s, s:o, s:{s:I, s:s, s:I, s:i, s:i, s:i, s:o}, s:o, s:{s:o, s:o, s:o, s:o, s:o}, s:o}", "model", dir,
        "architecture", architecture(c, &s->quirks), "parameters", "count", (json_int_t)s->n_params, "counted_as",
        "transformers num_parameters(): distinct parameters, tied embeddings once, Marian's two "
        "sinusoidal position tables included, buffers (final_logits_bias, M2M100's sinusoid) excluded",
        "stored_values", (json_int_t)s->n_bound_values, "tensors", dg_checkpoint_count(ck), "tensors_bound",
        s->n_bound, "tensors_unused", s->n_unused, "unused", names, "storage", storage(ck), "special_ids",
        "pad", id_or_null(c->pad_token_id), "eos", id_or_null(c->eos_token_id), "bos", id_or_null(c->bos_token_id),
        "decoder_start", id_or_null(c->decoder_start_token_id), "unk", id_or_null(unk_id(dir)), "generation",
        generation(c));
}

/* Indented "key: value" lines; arrays of scalars inline, nested objects as sections. */
static void print_text(FILE *out, json_t *v, int indent)
{
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x) {
        fprintf(out, "%*s%s:", indent, "", key);
        if (json_is_object(x)) {
            fputc('\n', out);
            print_text(out, x, indent + 2);
            continue;
        }
        char *s = json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));
        /* strings print bare; everything else as its JSON text */
        fprintf(out, " %s\n", json_is_string(x) ? json_string_value(x) : s ? s : "?");
        free(s);
    }
}

dg_code dg_inspect(FILE *out, const char *dir, bool as_json, dg_err *err)
{
    dg_config c;
    dg_code rc = dg_config_load(&c, dir, err);
    if (rc)
        return rc;
    dg_checkpoint *ck = dg_checkpoint_open(dir, err);
    if (!ck)
        return err ? err->code : DG_E_IO;
    unsigned char *unused = calloc((size_t)dg_checkpoint_count(ck) + 1, 1);
    dg_arch_summary s;
    if (!unused)
        rc = dg_err_set(err, DG_E_NOMEM, "out of memory");
    else
        rc = dg_arch_check(&c, ck, &s, unused, err);
    if (!rc) {
        json_t *r = report(dir, &c, ck, &s, unused);
        if (!r) {
            rc = dg_err_set(err, DG_E_INTERNAL, "could not build the report");
        } else if (as_json) {
            json_dumpf(r, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
            fputc('\n', out);
        } else {
            print_text(out, r, 0);
        }
        json_decref(r);
    }
    free(unused);
    dg_checkpoint_close(ck);
    return rc;
}
