/* Checkpoint readers against PyTorch: tensors written by tests/fixtures/make_checkpoints.py
 * (safetensors by hand, pytorch_model.bin by torch.save, including strided views, storage
 * offsets, tied copies, F16 and BF16) must read back exactly as torch reads them (values in
 * expected.json), and every malformed file must fail with its own specific error. The parsers
 * are also run on every truncation and on single-byte corruptions of good files, where ASan /
 * UBSan builds catch any out-of-bounds read. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "models/checkpoint.h"
#include "models/safetensors.h"
#include "models/torch_zip.h"
#include "test.h"

#define FX DG_BUILD_DIR "/fixtures/models/"

/* Every tensor of expected.json has the same dtype, shape and float32 values in DIR. */
static void check_against_expected(const char *dir, const char *format)
{
    char path[512];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    json_t *exp = json_load_file(path, 0, NULL);
    CHECK(exp != NULL);
    dg_err err = {0};
    dg_checkpoint *ck = dg_checkpoint_open(dir, &err);
    CHECK_MSG(ck != NULL, "%s: %s", dir, err.msg);
    if (!ck || !exp) {
        json_decref(exp);
        return;
    }
    CHECK_STR_EQ(dg_checkpoint_format(ck), format);
    const char *name;
    json_t *t;
    int n = 0;
    json_object_foreach(exp, name, t) {
        if (name[0] == '_')
            continue;
        n++;
        const dg_tensor_info *in = dg_checkpoint_find(ck, name);
        CHECK_MSG(in != NULL, "tensor %s not found", name);
        if (!in)
            continue;
        CHECK_STR_EQ(dg_dtype_name(in->dtype), json_string_value(json_object_get(t, "dtype")));
        json_t *shape = json_object_get(t, "shape");
        int64_t sh[DG_MAX_DIMS];
        CHECK_INT_EQ(in->ndim, json_array_size(shape));
        for (size_t d = 0; d < json_array_size(shape) && d < DG_MAX_DIMS; d++) {
            sh[d] = json_integer_value(json_array_get(shape, d));
            CHECK_INT_EQ(in->shape[d], sh[d]);
        }
        const float *v = dg_checkpoint_f32(ck, name, in->ndim, sh, &err);
        CHECK_MSG(v != NULL, "%s: %s", name, err.msg);
        json_t *vals = json_object_get(t, "values");
        size_t bad = 0;
        for (size_t k = 0; v && k < json_array_size(vals); k++)
            bad += v[k] != (float)json_real_value(json_array_get(vals, k)) &&
                   !(json_is_integer(json_array_get(vals, k)) &&
                     v[k] == (float)json_integer_value(json_array_get(vals, k)));
        CHECK_MSG(bad == 0, "%s: %zu values differ from torch", name, bad);
        /* a second lookup returns the cached conversion */
        CHECK(dg_checkpoint_f32(ck, name, in->ndim, sh, &err) == v);
        /* after a release (the engine packed a copy), a lookup gives the same values again */
        size_t numel = 1;
        for (int d = 0; d < in->ndim; d++)
            numel *= (size_t)in->shape[d];
        if (v)
            dg_checkpoint_release(ck, v, numel);
        v = dg_checkpoint_f32(ck, name, in->ndim, sh, &err);
        bad = 0;
        for (size_t k = 0; v && k < json_array_size(vals); k++)
            bad += v[k] != (float)json_real_value(json_array_get(vals, k)) &&
                   !(json_is_integer(json_array_get(vals, k)) &&
                     v[k] == (float)json_integer_value(json_array_get(vals, k)));
        CHECK_MSG(v && bad == 0, "%s: %zu values differ after a release", name, bad);
    }
    CHECK_INT_EQ(dg_checkpoint_count(ck), n);
    json_t *order = json_object_get(exp, "_order");
    for (size_t i = 0; i < json_array_size(order); i++)
        CHECK_STR_EQ(dg_checkpoint_info(ck, (int)i)->name, json_string_value(json_array_get(order, i)));
    json_decref(exp);
    dg_checkpoint_close(ck);
}

static void test_good_files(void)
{
    check_against_expected(FX "formats/st", "safetensors");
    check_against_expected(FX "formats/st_sharded", "safetensors (sharded)");
    check_against_expected(FX "formats/bin", "pytorch zip");
    check_against_expected(FX "formats/bin_sharded", "pytorch zip (sharded)");

    dg_err err = {0};
    dg_checkpoint *ck = dg_checkpoint_open(FX "formats/bin", &err);
    if (!ck)
        return;
    /* tied_b was saved as a second reference to tied_a's storage */
    int a = dg_checkpoint_index(ck, "tied_a"), b = dg_checkpoint_index(ck, "tied_b");
    CHECK(a >= 0 && b > a);
    CHECK_INT_EQ(dg_checkpoint_alias(ck, b), a);
    CHECK_INT_EQ(dg_checkpoint_alias(ck, dg_checkpoint_index(ck, "t")), dg_checkpoint_index(ck, "t"));
    const float *fa = dg_checkpoint_f32(ck, "tied_a", 2, (int64_t[]){2, 2}, &err);
    CHECK(fa && fa == dg_checkpoint_f32(ck, "tied_b", 2, (int64_t[]){2, 2}, &err));
    /* contiguous aligned F32 is used in place; a transposed view gets its own buffer */
    const float *w = dg_checkpoint_f32(ck, "w", 2, (int64_t[]){4, 6}, &err);
    const float *t = dg_checkpoint_f32(ck, "t", 2, (int64_t[]){6, 4}, &err);
    CHECK(w && t && w != t && t[1] == w[6]);

    CHECK(dg_checkpoint_f32(ck, "w", 2, (int64_t[]){6, 4}, &err) == NULL);
    CHECK_INT_EQ(err.code, DG_E_SHAPE);
    CHECK_CONTAINS(err.msg, "tensor 'w': expected shape [6, 4], got [4, 6]");
    CHECK(dg_checkpoint_f32(ck, "nope", 1, (int64_t[]){1}, &err) == NULL);
    CHECK_INT_EQ(err.code, DG_E_MISSING);
    CHECK_CONTAINS(err.msg, "tensor 'nope' not found");
    dg_checkpoint_close(ck);

    /* hand-made archives torch.load accepts: a minimal pickle, and the same in ZIP64 records */
    static const char *const handmade[] = {FX "bad/bin_handmade_ok", FX "bad/bin_zip64_ok"};
    for (int i = 0; i < 2; i++) {
        ck = dg_checkpoint_open(handmade[i], &err);
        CHECK_MSG(ck != NULL, "%s: %s", handmade[i], err.msg);
        const float *h = ck ? dg_checkpoint_f32(ck, "w", 1, (int64_t[]){4}, &err) : NULL;
        CHECK(h && h[0] == 1 && h[1] == 2 && h[2] == 3 && h[3] == 4);
        dg_checkpoint_close(ck);
    }
}

static void test_bad_files(void)
{
    static const struct {
        const char *dir;
        dg_code code;
        const char *msg;
    } cases[] = {
        {"st_truncated", DG_E_FORMAT, "truncated safetensors file (3 bytes"},
        {"st_header_beyond", DG_E_FORMAT, "header length 1000 exceeds the file"},
        {"st_bad_json", DG_E_FORMAT, "bad header JSON"},
        {"st_not_object", DG_E_FORMAT, "header is not a JSON object"},
        {"st_offsets_out_of_range", DG_E_FORMAT, "tensor 'y': data_offsets [24, 48] out of range"},
        {"st_overlap", DG_E_FORMAT, "tensors 'x' and 'y' overlap"},
        {"st_dtype_i64", DG_E_UNSUPPORTED, "tensor 'y' has dtype I64"},
        {"st_shape_mismatch", DG_E_FORMAT, "tensor 'x': shape needs 16 bytes but data_offsets span 24"},
        {"st_begin_after_end", DG_E_FORMAT, "tensor 'y': data_offsets [40, 24] begin after end"},
        {"st_no_shape", DG_E_FORMAT, "tensor 'x' has no 'shape'"},
        {"st_huge_shape", DG_E_FORMAT, "tensor 'x': shape too large"},
        {"st_duplicate_key", DG_E_FORMAT, "duplicate object key"},
        {"bin_unknown_opcode", DG_E_FORMAT, "unsupported pickle opcode 0xfe"},
        {"bin_forbidden_global", DG_E_UNSUPPORTED, "pickle global 'os.system' is not allowed"},
        {"bin_long_storage", DG_E_UNSUPPORTED, "storage type torch.LongStorage is not supported"},
        {"bin_missing_data", DG_E_FORMAT, "storage entry 'archive/data/0' missing from the zip"},
        {"bin_view_past_storage", DG_E_FORMAT, "tensor view reaches past the end of its storage"},
        {"bin_compressed", DG_E_UNSUPPORTED, "zip entry 'archive/version' is compressed"},
        {"bin_no_stop", DG_E_FORMAT, "pickle ends without STOP"},
        {"bin_memo_unset", DG_E_FORMAT, "memo index not set"},
        {"bin_not_zip", DG_E_FORMAT, "not a zip archive"},
        {"bin_truncated", DG_E_FORMAT, "truncated zip"},
        {"bin_legacy", DG_E_UNSUPPORTED, "unsupported legacy (non-zip) PyTorch format"},
        {"index_missing_shard", DG_E_MISSING, "shard 'model-00001-of-00002.safetensors' is missing"},
        {"index_bad_name", DG_E_FORMAT, "tensor 'x' maps to an invalid shard file name"},
        {"index_wrong_shard", DG_E_MISSING, "tensor 'x' is not in its shard 'b.safetensors'"},
        {"empty_dir", DG_E_MISSING, "no model.safetensors, model.safetensors.index.json, pytorch_model.bin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, FX "bad/%s", cases[i].dir);
        dg_err err = {0};
        dg_checkpoint *ck = dg_checkpoint_open(dir, &err);
        CHECK_MSG(ck == NULL, "%s opened", cases[i].dir);
        dg_checkpoint_close(ck);
        CHECK_MSG(err.code == cases[i].code, "%s: code %s, want %s (%s)", cases[i].dir, dg_code_name(err.code),
                  dg_code_name(cases[i].code), err.msg);
        CHECK_CONTAINS(err.msg, cases[i].msg);
    }
}

typedef dg_code (*parse_fn)(const char *, const uint8_t *, size_t, dg_tensor_list *, dg_err *);

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n);
    if (b && fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

/* Every prefix and every single-byte corruption is parsed from an exactly-sized heap copy, so
 * a read past the end trips ASan; only the whole, intact file may parse. */
static void hostile_bytes(const char *path, parse_fn parse)
{
    size_t n = 0;
    uint8_t *good = slurp(path, &n);
    CHECK(good != NULL);
    if (!good)
        return;
    int truncations_ok = 0, mutations_ran = 0;
    for (size_t len = 0; len <= n; len++) {
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, good, len);
        dg_tensor_list l = {0};
        dg_err err = {0};
        dg_code rc = parse("fuzz", b, len, &l, &err);
        truncations_ok += rc == DG_OK;
        CHECK_MSG(rc == DG_OK || err.msg[0], "no message for a failure at length %zu", len);
        dg_tensor_list_free(&l);
        free(b);
    }
    CHECK_INT_EQ(truncations_ok, 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t *b = malloc(n);
        memcpy(b, good, n);
        b[i] ^= 0xA5;
        dg_tensor_list l = {0};
        parse("fuzz", b, n, &l, NULL);
        dg_tensor_list_free(&l);
        free(b);
        mutations_ran++;
    }
    CHECK_INT_EQ(mutations_ran, n);
    free(good);
}

int main(void)
{
    test_good_files();
    test_bad_files();
    hostile_bytes(FX "formats/st/model.safetensors", dg_safetensors_parse);
    hostile_bytes(FX "formats/bin/pytorch_model.bin", dg_torch_zip_parse);
    hostile_bytes(FX "bad/bin_zip64_ok/pytorch_model.bin", dg_torch_zip_parse);
    return test_summary();
}
