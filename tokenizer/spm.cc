/* DESIGN: the project's only C++ file, a thin shell around sentencepiece::SentencePieceProcessor
 * (see spm.h). Every entry point catches everything: C callers above must never see an
 * exception unwinding through their frames, so std::bad_alloc becomes DG_E_NOMEM and anything
 * else DG_E_INTERNAL. Statuses returned by SentencePiece keep their message in the dg_err. */
#include "tokenizer/spm.h"

#include <sentencepiece_processor.h>

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
