/* DESIGN: the project's only C++ file, a thin shell around sentencepiece::SentencePieceProcessor
 * (see spm.h). Every entry point catches everything: C callers above must never see an
 * exception unwinding through their frames, so std::bad_alloc becomes DG_E_NOMEM and anything
 * else DG_E_INTERNAL. Statuses returned by SentencePiece keep their message in the dg_err. */
#include "tokenizer/spm.h"

#include <sentencepiece_processor.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <vector>

struct dg_spm {
    sentencepiece::SentencePieceProcessor proc;
};

static dg_code from_exception(dg_err *err, const char *what)
{
    try {
        throw;
    } catch (const std::bad_alloc &) {
        return dg_err_set(err, DG_E_NOMEM, "%s: out of memory", what);
    } catch (const std::exception &e) {
        return dg_err_set(err, DG_E_INTERNAL, "%s: %s", what, e.what());
    } catch (...) {
        return dg_err_set(err, DG_E_INTERNAL, "%s: unknown exception", what);
    }
}

extern "C" dg_code dg_spm_load(const char *path, dg_spm **out, dg_err *err)
{
    *out = nullptr;
    dg_spm *spm = nullptr;
    try {
        spm = new dg_spm;
        sentencepiece::util::Status st = spm->proc.Load(path);
        if (!st.ok()) {
            dg_code code = st.code() == sentencepiece::util::StatusCode::kNotFound ? DG_E_IO
                                                                                    : DG_E_FORMAT;
            dg_err_set(err, code, "%s: cannot load SentencePiece model: %s", path,
                       st.ToString().c_str());
            delete spm;
            return code;
        }
        *out = spm;
        return DG_OK;
    } catch (...) {
        delete spm;
        return from_exception(err, "sentencepiece load");
    }
}

/* Protocol-buffer wire format, just enough to rewrite one field of ModelProto:
 * normalizer_spec is field 3 (length-delimited), add_dummy_prefix its field 3 (varint). Appending
 * "add_dummy_prefix = false" to the sub-message overrides an earlier value, since the last
 * occurrence of a scalar field wins when parsing. */
static bool read_varint(const std::string &s, size_t *p, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < s.size(); shift += 7) {
        unsigned char c = static_cast<unsigned char>(s[(*p)++]);
        *v |= static_cast<uint64_t>(c & 0x7f) << shift;
        if (!(c & 0x80))
            return true;
    }
    return false;
}

static void write_varint(std::string *s, uint64_t v)
{
    while (v >= 0x80) {
        s->push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    s->push_back(static_cast<char>(v));
}

static bool without_dummy_prefix(const std::string &in, std::string *out)
{
    size_t p = 0;
    bool found = false;
    while (p < in.size()) {
        size_t start = p;
        uint64_t key, len = 0;
        if (!read_varint(in, &p, &key))
            return false;
        switch (key & 7) {
        case 0: if (!read_varint(in, &p, &len)) return false; len = 0; break;
        case 1: len = 8; break;
        case 2: if (!read_varint(in, &p, &len)) return false; break;
        case 5: len = 4; break;
        default: return false;
        }
        if (len > in.size() - p)
            return false;
        if (key == ((3 << 3) | 2)) {
            std::string sub = in.substr(p, len);
            sub.push_back(static_cast<char>(3 << 3)); /* field 3, varint */
            sub.push_back(0);
            write_varint(out, key);
            write_varint(out, sub.size());
            out->append(sub);
            found = true;
        } else {
            out->append(in, start, p + len - start);
        }
        p += len;
    }
    return found;
}

extern "C" dg_code dg_spm_load_no_dummy_prefix(const char *path, dg_spm **out, dg_err *err)
{
    *out = nullptr;
    dg_spm *spm = nullptr;
    try {
        FILE *f = std::fopen(path, "rb");
        if (!f)
            return dg_err_set(err, DG_E_IO, "%s: cannot open SentencePiece model", path);
        std::string raw;
        char buf[65536];
        size_t got;
        while ((got = std::fread(buf, 1, sizeof buf, f)) > 0)
            raw.append(buf, got);
        std::fclose(f);
        std::string patched;
        if (!without_dummy_prefix(raw, &patched))
            return dg_err_set(err, DG_E_FORMAT,
                              "%s: not a SentencePiece model (no normalizer_spec)", path);
        spm = new dg_spm;
        sentencepiece::util::Status st = spm->proc.LoadFromSerializedProto(patched);
        if (!st.ok()) {
            dg_err_set(err, DG_E_FORMAT, "%s: cannot load SentencePiece model: %s", path,
                       st.ToString().c_str());
            delete spm;
            return DG_E_FORMAT;
        }
        *out = spm;
        return DG_OK;
    } catch (...) {
        delete spm;
        return from_exception(err, "sentencepiece load");
    }
}

extern "C" int dg_spm_size(const dg_spm *spm)
{
    return spm->proc.GetPieceSize();
}

extern "C" int dg_spm_piece_to_id(const dg_spm *spm, const char *piece, size_t len)
{
    try {
        return spm->proc.PieceToId(std::string_view(piece, len));
    } catch (...) {
        return spm->proc.unk_id();
    }
}

extern "C" const char *dg_spm_id_to_piece(const dg_spm *spm, int id, size_t *len)
{
    if (id < 0 || id >= spm->proc.GetPieceSize())
        return nullptr;
    const std::string &p = spm->proc.IdToPiece(id);
    *len = p.size();
    return p.c_str();
}

extern "C" void dg_spm_free(dg_spm *spm)
{
    delete spm;
}

extern "C" dg_code dg_spm_encode(const dg_spm *spm, const char *text, size_t len,
                                 dg_spm_piece_fn fn, void *ctx, dg_err *err)
{
    try {
        std::vector<std::string> pieces;
        sentencepiece::util::Status st = spm->proc.Encode(std::string_view(text, len), &pieces);
        if (!st.ok())
            return dg_err_set(err, DG_E_INTERNAL, "sentencepiece encode: %s",
                              st.ToString().c_str());
        for (const std::string &p : pieces) {
            dg_code rc = fn(ctx, p.data(), p.size(), err);
            if (rc != DG_OK)
                return rc;
        }
        return DG_OK;
    } catch (...) {
        return from_exception(err, "sentencepiece encode");
    }
}

extern "C" dg_code dg_spm_decode(const dg_spm *spm, const char *const *pieces,
                                 const size_t *lens, size_t n, char **out, size_t *out_len,
                                 dg_err *err)
{
    *out = nullptr;
    *out_len = 0;
    try {
        std::vector<std::string_view> views;
        views.reserve(n);
        for (size_t i = 0; i < n; i++)
            views.emplace_back(pieces[i], lens[i]);
        std::string text;
        sentencepiece::util::Status st = spm->proc.Decode(views, &text);
        if (!st.ok())
            return dg_err_set(err, DG_E_INTERNAL, "sentencepiece decode: %s",
                              st.ToString().c_str());
        char *buf = static_cast<char *>(std::malloc(text.size() + 1));
        if (!buf)
            return dg_err_set(err, DG_E_NOMEM, "sentencepiece decode: out of memory");
        std::memcpy(buf, text.data(), text.size());
        buf[text.size()] = 0;
        *out = buf;
        *out_len = text.size();
        return DG_OK;
    } catch (...) {
        return from_exception(err, "sentencepiece decode");
    }
}
