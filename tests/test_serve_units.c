/* Unit tests of the server's pure parts against hand-written expectations from the API
 * contract (server/api/openapi.json, the brief's status table, Prometheus text format): option
 * table (defaults, environment, flags, bounds), request validation and its error messages,
 * response rendering, UTF-8 checks, sentence splitting, metrics exposition, language pairs
 * from folder names. The HTTP behaviour itself is tested end to end by test_serve_http.py. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/api/api_error.h"
#include "server/api/api_json.h"
#include "server/config.h"
#include "server/http/http.h"
#include "server/sched/cpu_budget.h"
#include "server/obs/metrics.h"
#include "server/registry.h"
#include "server/sched/scheduler_internal.h"
#include "text/segment.h"
#include "test.h"

static dg_code parse(dg_serve_config *c, int *help, dg_err *err, int argc, char **argv)
{
    return dg_serve_config_parse(c, argc, argv, help, err);
}

static void test_config(void)
{
    dg_serve_config c;
    dg_err err;
    int help;
    unsetenv("DRAGOMAN_PORT");
    unsetenv("DRAGOMAN_MODEL");
    char *a0[] = {"serve"};
    CHECK_INT_EQ(parse(&c, &help, &err, 1, a0), DG_OK);
    CHECK_INT_EQ(c.port, 8080);
    CHECK_STR_EQ(c.host, "127.0.0.1");
    CHECK_INT_EQ(c.max_queue, 1024);
    CHECK_INT_EQ(c.log_format, DG_LOG_TEXT);
    CHECK(c.api_keys == NULL);
    CHECK_INT_EQ(c.n_models, 0);
    dg_serve_config_free(&c);

    setenv("DRAGOMAN_PORT", "9000", 1);
    setenv("DRAGOMAN_MODEL", "a=/x,/y", 1);
    CHECK_INT_EQ(parse(&c, &help, &err, 1, a0), DG_OK);
    CHECK_INT_EQ(c.port, 9000);
    CHECK_INT_EQ(c.n_models, 2);
    CHECK_STR_EQ(c.models[0], "a=/x");
    CHECK_STR_EQ(c.models[1], "/y");
    dg_serve_config_free(&c);

    char *a1[] = {"serve", "--port", "7000", "--model", "m1", "--model=n=m2", "--log-format=json",
                  "--timeout-ms", "250"};
    CHECK_INT_EQ(parse(&c, &help, &err, 9, a1), DG_OK);
    CHECK_INT_EQ(c.port, 7000);  /* the flag wins over DRAGOMAN_PORT */
    CHECK_INT_EQ(c.n_models, 2); /* flags replace the environment's list */
    CHECK_STR_EQ(c.models[0], "m1");
    CHECK_STR_EQ(c.models[1], "n=m2");
    CHECK_INT_EQ(c.log_format, DG_LOG_JSON);
    CHECK_INT_EQ(c.timeout_ms, 250);
    char desc[2048];
    dg_serve_config_describe(&c, desc, sizeof desc);
    CHECK_CONTAINS(desc, "port=7000");
    CHECK_CONTAINS(desc, "model=m1,n=m2");
    CHECK_CONTAINS(desc, "log-format=json");
    dg_serve_config_free(&c);

    char *a2[] = {"serve", "--port", "70000"};
    CHECK_INT_EQ(parse(&c, &help, &err, 3, a2), DG_E_INPUT);
    CHECK_STR_EQ(err.msg, "--port: 70000 is outside [0, 65535]");
    dg_serve_config_free(&c);
    setenv("DRAGOMAN_PORT", "80x", 1);
    CHECK_INT_EQ(parse(&c, &help, &err, 1, a0), DG_E_INPUT);
    CHECK_STR_EQ(err.msg, "DRAGOMAN_PORT: '80x' is not an integer");
    dg_serve_config_free(&c);
    unsetenv("DRAGOMAN_PORT");
    unsetenv("DRAGOMAN_MODEL");
    char *a3[] = {"serve", "--log-format", "xml"};
    CHECK_INT_EQ(parse(&c, &help, &err, 3, a3), DG_E_INPUT);
    CHECK_STR_EQ(err.msg, "--log-format: 'xml' is not one of text|json");
    dg_serve_config_free(&c);
    /* --compute-type's choices are dg_compute_type's values, in order */
    CHECK_INT_EQ(parse(&c, &help, &err, 1, a0), DG_OK);
    CHECK_INT_EQ(c.compute_type, DG_COMPUTE_FLOAT32);
    dg_serve_config_free(&c);
    char *ct[] = {"serve", "--compute-type", "int8"};
    CHECK_INT_EQ(parse(&c, &help, &err, 3, ct), DG_OK);
    CHECK_INT_EQ(c.compute_type, DG_COMPUTE_INT8);
    dg_serve_config_free(&c);
    ct[2] = "bfloat16";
    CHECK_INT_EQ(parse(&c, &help, &err, 3, ct), DG_OK);
    CHECK_INT_EQ(c.compute_type, DG_COMPUTE_BFLOAT16);
    dg_serve_config_free(&c);
    ct[2] = "int4";
    CHECK_INT_EQ(parse(&c, &help, &err, 3, ct), DG_E_INPUT);
    CHECK_STR_EQ(err.msg, "--compute-type: 'int4' is not one of auto|float32|int8|bfloat16");
    dg_serve_config_free(&c);
    char *a4[] = {"serve", "--bogus=1"};
    CHECK_INT_EQ(parse(&c, &help, &err, 2, a4), DG_E_INPUT);
    CHECK_STR_EQ(err.msg, "unknown option '--bogus' (see --help)");
    dg_serve_config_free(&c);
    char *a5[] = {"serve", "--workers"};
    CHECK_INT_EQ(parse(&c, &help, &err, 2, a5), DG_E_INPUT);
    CHECK_STR_EQ(err.msg, "--workers needs a value");
    dg_serve_config_free(&c);
    char *a6[] = {"serve", "--workers", "0"};
    CHECK_INT_EQ(parse(&c, &help, &err, 3, a6), DG_E_INPUT);
    dg_serve_config_free(&c);
    char *a7[] = {"serve", "--help"};
    CHECK_INT_EQ(parse(&c, &help, &err, 2, a7), DG_OK);
    CHECK_INT_EQ(help, 1);
    dg_serve_config_free(&c);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    dg_serve_config_usage(f);
    fclose(f);
    const char *flags[] = {"--model", "--host", "--port", "--workers", "--threads-per-worker",
                           "--max-batch-tokens", "--max-queue", "--timeout-ms",
                           "--max-body-bytes", "--max-texts", "--max-input-tokens",
                           "--api-keys", "--log-format", "DRAGOMAN_MAX_BATCH_TOKENS",
                           "DRAGOMAN_API_KEYS", "DRAGOMAN_LOG_FORMAT"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        CHECK_CONTAINS(text, flags[i]);
    free(text);
}

static int parse_v1(const char *body, dg_translate_request *r, dg_api_error *e)
{
    return dg_api_parse_translate(body, strlen(body), 4, r, e);
}

/* expects status 400 and a message containing needle */
static void bad_v1(const char *body, dg_api_error_kind kind, const char *needle)
{
    dg_translate_request r;
    dg_api_error e;
    int st = parse_v1(body, &r, &e);
    CHECK_MSG(st == 400, "%s -> %d", body, st);
    CHECK_MSG(e.kind == kind, "%s -> kind %d", body, (int)e.kind);
    CHECK_CONTAINS(e.msg, needle);
    dg_translate_request_free(&r);
}

static void test_parse_v1(void)
{
    dg_translate_request r;
    dg_api_error e;
    CHECK_INT_EQ(parse_v1("{\"text\": \"Hallo\"}", &r, &e), 0);
    CHECK_INT_EQ(r.n_texts, 1);
    CHECK_STR_EQ(r.texts[0], "Hallo");
    CHECK(!r.text_is_array);
    CHECK(r.model == NULL && r.source == NULL);
    dg_translate_request_free(&r);

    const char *full = "{\"text\": [\"a\", \"b\\u00e9\"], \"model\": \"m\", \"source\": \"en\", "
                       "\"target\": \"de\", \"options\": {\"beam_size\": 4, \"max_length\": 50, "
                       "\"length_penalty\": 0.5, \"n_best\": 2, \"return_scores\": true, "
                       "\"no_repeat_ngram_size\": 3, \"repetition_penalty\": 1.2, "
                       "\"truncate\": true, \"min_length\": 3, \"early_stopping\": \"never\", "
                       "\"timeout_ms\": 250}}";
    CHECK_INT_EQ(parse_v1(full, &r, &e), 0);
    CHECK_INT_EQ(r.n_texts, 2);
    CHECK(r.text_is_array);
    CHECK_STR_EQ(r.texts[1], "b\xc3\xa9");
    CHECK_STR_EQ(r.model, "m");
    CHECK_STR_EQ(r.source, "en");
    CHECK_STR_EQ(r.target, "de");
    const double *g = r.opts.gen.v;
    CHECK_INT_EQ(g[DG_GEN_BEAM_SIZE], 4);
    CHECK_INT_EQ(g[DG_GEN_MAX_LENGTH], 50);
    CHECK_NEAR(g[DG_GEN_LENGTH_PENALTY], 0.5, 0);
    CHECK_INT_EQ(g[DG_GEN_N_BEST], 2);
    CHECK_INT_EQ(g[DG_GEN_NO_REPEAT_NGRAM], 3);
    CHECK_NEAR(g[DG_GEN_REPETITION_PENALTY], 1.2, 1e-12);
    CHECK_INT_EQ(g[DG_GEN_MIN_LENGTH], 3);
    CHECK_INT_EQ(g[DG_GEN_EARLY_STOPPING], 2);
    CHECK(r.opts.return_scores && r.opts.truncate);
    CHECK_INT_EQ(r.opts.timeout_ms, 250);
    CHECK_INT_EQ(r.opts.gen.set, 1u << DG_GEN_BEAM_SIZE | 1u << DG_GEN_MAX_LENGTH |
                                     1u << DG_GEN_LENGTH_PENALTY | 1u << DG_GEN_N_BEST |
                                     1u << DG_GEN_NO_REPEAT_NGRAM | 1u << DG_GEN_MIN_LENGTH |
                                     1u << DG_GEN_REPETITION_PENALTY | 1u << DG_GEN_EARLY_STOPPING);
    dg_translate_request_free(&r);
    /* Hugging Face's names for two of them */
    const char *hf = "{\"text\": \"a\", \"options\": {\"num_beams\": 3, "
                     "\"num_return_sequences\": 2, \"max_new_tokens\": 9, \"early_stopping\": true}}";
    CHECK_INT_EQ(parse_v1(hf, &r, &e), 0);
    CHECK_INT_EQ(r.opts.gen.v[DG_GEN_BEAM_SIZE], 3);
    CHECK_INT_EQ(r.opts.gen.v[DG_GEN_N_BEST], 2);
    CHECK_INT_EQ(r.opts.gen.v[DG_GEN_MAX_NEW_TOKENS], 9);
    CHECK_INT_EQ(r.opts.gen.v[DG_GEN_EARLY_STOPPING], 1);
    dg_translate_request_free(&r);

    bad_v1("{\"text\": \"a\"", DG_API_INVALID_JSON, "malformed JSON at line 1");
    bad_v1("{\"text\": \"a\", \"text\": \"b\"}", DG_API_INVALID_JSON, "duplicate");
    bad_v1("{\"text\": \"a\\u0000b\"}", DG_API_INVALID_JSON, "malformed JSON");
    bad_v1("{\"text\": \"\xff\"}", DG_API_INVALID_REQUEST, "not valid UTF-8");
    bad_v1("[\"a\"]", DG_API_INVALID_REQUEST, "the body must be a JSON object");
    bad_v1("{}", DG_API_INVALID_REQUEST, "missing field 'text'");
    bad_v1("{\"text\": 5}", DG_API_INVALID_REQUEST, "'text' must be a string or an array of strings");
    bad_v1("{\"text\": []}", DG_API_INVALID_REQUEST, "'text' is an empty array");
    bad_v1("{\"text\": [\"a\", 1]}", DG_API_INVALID_REQUEST, "'text[1]' must be a string");
    bad_v1("{\"text\": [\"a\",\"a\",\"a\",\"a\",\"a\"]}", DG_API_INVALID_REQUEST,
           "has 5 texts, more than the limit of 4");
    bad_v1("{\"text\": \"a\", \"lang\": \"x\"}", DG_API_INVALID_REQUEST, "unknown field 'lang'");
    bad_v1("{\"text\": \"a\", \"model\": 3}", DG_API_INVALID_REQUEST, "'model' must be a string");
    bad_v1("{\"text\": \"a\", \"options\": []}", DG_API_INVALID_REQUEST, "'options' must be an object");
    bad_v1("{\"text\": \"a\", \"options\": {\"beam\": 2}}", DG_API_INVALID_REQUEST,
           "unknown option 'beam'");
    bad_v1("{\"text\": \"a\", \"options\": {\"beam_size\": 0}}", DG_API_INVALID_REQUEST,
           "option 'beam_size' must be in [1, 64]");
    bad_v1("{\"text\": \"a\", \"options\": {\"early_stopping\": 1}}", DG_API_INVALID_REQUEST,
           "option 'early_stopping' must be true, false or \"never\"");
    bad_v1("{\"text\": \"a\", \"options\": {\"timeout_ms\": 0}}", DG_API_INVALID_REQUEST,
           "option 'timeout_ms' must be in [1, 86400000]");
    bad_v1("{\"text\": \"a\", \"options\": {\"beam_size\": 2.5}}", DG_API_INVALID_REQUEST,
           "option 'beam_size' must be an integer");
    bad_v1("{\"text\": \"a\", \"options\": {\"length_penalty\": \"x\"}}", DG_API_INVALID_REQUEST,
           "option 'length_penalty' must be a number");
    bad_v1("{\"text\": \"a\", \"options\": {\"truncate\": 1}}", DG_API_INVALID_REQUEST,
           "option 'truncate' must be true or false");
}

static void test_utf8(void)
{
    CHECK_INT_EQ(dg_utf8_invalid_at("ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 11), -1);
    CHECK_INT_EQ(dg_utf8_invalid_at("a\xc0\x80", 3), 1);         /* overlong NUL */
    CHECK_INT_EQ(dg_utf8_invalid_at("ab\xed\xa0\x80", 5), 2);    /* surrogate */
    CHECK_INT_EQ(dg_utf8_invalid_at("\xf4\x90\x80\x80", 4), 0);  /* > U+10FFFF */
    CHECK_INT_EQ(dg_utf8_invalid_at("\xe2\x82", 2), 0);          /* truncated */
    CHECK_INT_EQ(dg_utf8_invalid_at("a\0b", 3), 1);
}

static void test_responses(void)
{
    char *h0[] = {"Hallo Welt", "Hallo"}, *h1[] = {"zwei \"x\""};
    dg_translation t[2] = {{2, h0, -0.5}, {1, h1, -1.25}};
    char *s = dg_api_translate_response("en-de", t, 2, true);
    CHECK_STR_EQ(s, "{\"model\":\"en-de\",\"translations\":[{\"text\":\"Hallo Welt\",\"score\":-0.5,"
                    "\"alternatives\":[\"Hallo\"]},{\"text\":\"zwei \\\"x\\\"\",\"score\":-1.25}]}");
    free(s);
    s = dg_api_translate_response("m", t + 1, 1, false);
    CHECK_STR_EQ(s, "{\"model\":\"m\",\"translations\":[{\"text\":\"zwei \\\"x\\\"\"}]}");
    free(s);
    s = dg_api_lt_response(t, 1, false, 0, NULL);
    CHECK_STR_EQ(s, "{\"translatedText\":\"Hallo Welt\"}");
    free(s);
    s = dg_api_lt_response(t, 1, false, 1, NULL);
    CHECK_STR_EQ(s, "{\"translatedText\":\"Hallo Welt\",\"alternatives\":[\"Hallo\"]}");
    free(s);
    dg_detected_language d = {"en", 92};
    s = dg_api_lt_response(t, 2, true, 1, &d);
    CHECK_STR_EQ(s, "{\"translatedText\":[\"Hallo Welt\",\"zwei \\\"x\\\"\"],"
                    "\"alternatives\":[[\"Hallo\"],[]],\"detectedLanguage\":"
                    "[{\"confidence\":92.0,\"language\":\"en\"},"
                    "{\"confidence\":92.0,\"language\":\"en\"}]}");
    free(s);
    /* LibreTranslate's filter_unique: no copy of the best text, no repeats */
    char *h2[] = {"a", "b", "a", "b", "c"};
    dg_translation td = {5, h2, 0};
    s = dg_api_lt_response(&td, 1, false, 4, &d);
    CHECK_STR_EQ(s, "{\"translatedText\":\"a\",\"alternatives\":[\"b\",\"c\"],"
                    "\"detectedLanguage\":{\"confidence\":92.0,\"language\":\"en\"}}");
    free(s);
    char *bad[] = {"a\xff"};
    dg_translation tb = {1, bad, 0};
    s = dg_api_lt_response(&tb, 1, false, 0, NULL);
    CHECK_STR_EQ(s, "{\"translatedText\":\"a\xef\xbf\xbd\"}");
    free(s);
}

static void test_errors(void)
{
    const struct {
        dg_api_error_kind k;
        int status;
        const char *code;
    } want[] = {
        {DG_API_INVALID_JSON, 400, "invalid_json"},
        {DG_API_INVALID_REQUEST, 400, "invalid_request"},
        {DG_API_INPUT_TOO_LONG, 400, "input_too_long"},
        {DG_API_UNAUTHORIZED, 401, "unauthorized"},
        {DG_API_INVALID_KEY, 401, "invalid_api_key"},
        {DG_API_NOT_FOUND, 404, "not_found"},
        {DG_API_MODEL_NOT_FOUND, 404, "model_not_found"},
        {DG_API_METHOD_NOT_ALLOWED, 405, "method_not_allowed"},
        {DG_API_BODY_TOO_LARGE, 413, "body_too_large"},
        {DG_API_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type"},
        {DG_API_UNSUPPORTED_LANGUAGE_PAIR, 422, "unsupported_language_pair"},
        {DG_API_QUEUE_FULL, 429, "queue_full"},
        {DG_API_INTERNAL, 500, "internal"},
        {DG_API_NOT_IMPLEMENTED, 501, "not_implemented"},
        {DG_API_NOT_READY, 503, "not_ready"},
        {DG_API_SHUTTING_DOWN, 503, "shutting_down"},
        {DG_API_TIMEOUT, 504, "timeout"},
        {DG_API_REQUEST_TIMEOUT, 408, "request_timeout"},
        {DG_API_BUSY, 503, "busy"},
    };
    CHECK_INT_EQ(sizeof want / sizeof want[0], DG_API_ERROR_COUNT);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_INT_EQ(dg_api_error_status(want[i].k), want[i].status);
        CHECK_STR_EQ(dg_api_error_code(want[i].k), want[i].code);
    }
    dg_api_error e;
    CHECK_INT_EQ(dg_api_error_set(&e, DG_API_QUEUE_FULL, "queue has %d", 7), 429);
    char *b = dg_api_error_body(&e, false);
    CHECK_STR_EQ(b, "{\"error\":{\"code\":\"queue_full\",\"message\":\"queue has 7\"}}");
    free(b);
    b = dg_api_error_body(&e, true);  /* LibreTranslate's envelope */
    CHECK_STR_EQ(b, "{\"error\":\"queue has 7\"}");
    free(b);
    CHECK_INT_EQ(dg_api_error_lt_status(DG_API_UNSUPPORTED_LANGUAGE_PAIR), 400);
    CHECK_INT_EQ(dg_api_error_lt_status(DG_API_INVALID_KEY), 403);
    CHECK_INT_EQ(dg_api_error_lt_status(DG_API_UNAUTHORIZED), 400);
    CHECK_INT_EQ(dg_api_error_from_code(DG_E_INPUT), DG_API_INVALID_REQUEST);
    CHECK_INT_EQ(dg_api_error_from_code(DG_E_NOMEM), DG_API_INTERNAL);
    dg_api_error_set(&e, DG_API_NOT_FOUND, "no route /\xff");
    b = dg_api_error_body(&e, false);
    CHECK_CONTAINS(b, "\"code\":\"not_found\"");
    free(b);
}

static void check_split(const char *text, int n_want, const char *const *want)
{
    dg_span sp[8];
    int n = dg_split_sentences(text, strlen(text), sp, 8);
    CHECK_MSG(n == n_want, "\"%s\": %d sentences, want %d", text, n, n_want);
    for (int i = 0; i < n && i < n_want; i++)
        CHECK_MSG(sp[i].len == strlen(want[i]) && !memcmp(text + sp[i].start, want[i], sp[i].len),
                  "\"%s\" sentence %d = \"%.*s\", want \"%s\"", text, i, (int)sp[i].len,
                  text + sp[i].start, want[i]);
}

static void test_sentences(void)
{
    const char *w1[] = {"Hello world.", "How are you?", "Fine!", "Next line"};
    check_split("  Hello world. How are you?  Fine!\nNext line\n", 4, w1);
    const char *w2[] = {"It costs 3.5 euros, e.g. this one."};
    check_split("It costs 3.5 euros, e.g. this one.", 1, w2);
    const char *w3[] = {"He said \"stop.\"", "Then left."};
    check_split("He said \"stop.\" Then left.", 2, w3);
    check_split("", 0, NULL);
    check_split(" \n\t ", 0, NULL);
    const char *text = "  A. B?\n\nC  ";
    dg_span sp[4];
    int n = dg_split_sentences(text, strlen(text), sp, 4);
    CHECK_INT_EQ(n, 3);
    char *out[] = {"x", "yy", "zzz"};
    char *j = dg_join_sentences(text, strlen(text), sp, n, out);
    CHECK_STR_EQ(j, "  x yy\n\nzzz  ");
    free(j);
    CHECK_INT_EQ(dg_split_sentences(text, strlen(text), NULL, 0), 3);  /* counting only */
}

static void test_metrics(void)
{
    dg_metrics_route(0, "/v1/translate");
    dg_metrics_request(0, 200, 0.02);
    dg_metrics_request(0, 429, 0.001);
    dg_metrics_request(0, 200, 3.0);
    dg_metrics_request(-1, 404, 0.001);  /* an unknown path */
    dg_metrics_error(DG_API_QUEUE_FULL);
    dg_metrics_queue_depth(5);
    dg_metrics_batch(3);
    dg_metrics_tokens(10, 7);
    dg_metrics_model("en-de", "en", "de", 1.5);
    char *s = dg_metrics_render();
    CHECK_CONTAINS(s, "dragoman_requests_total{route=\"/v1/translate\",status=\"200\"} 2\n");
    CHECK_CONTAINS(s, "dragoman_requests_total{route=\"/v1/translate\",status=\"429\"} 1\n");
    CHECK_CONTAINS(s, "dragoman_requests_total{route=\"other\",status=\"404\"} 1\n");
    /* cumulative buckets: 0.001 <= 0.005; 0.02 <= 0.025; 3.0 only under 5 */
    CHECK_CONTAINS(s, "dragoman_request_duration_seconds_bucket{route=\"/v1/translate\",le=\"0.005\"} 1\n");
    CHECK_CONTAINS(s, "dragoman_request_duration_seconds_bucket{route=\"/v1/translate\",le=\"0.025\"} 2\n");
    CHECK_CONTAINS(s, "dragoman_request_duration_seconds_bucket{route=\"/v1/translate\",le=\"2.5\"} 2\n");
    CHECK_CONTAINS(s, "dragoman_request_duration_seconds_bucket{route=\"/v1/translate\",le=\"+Inf\"} 3\n");
    CHECK_CONTAINS(s, "dragoman_request_duration_seconds_sum{route=\"/v1/translate\"} 3.021000\n");
    CHECK_CONTAINS(s, "dragoman_request_duration_seconds_count{route=\"/v1/translate\"} 3\n");
    CHECK_CONTAINS(s, "dragoman_errors_total{code=\"queue_full\"} 1\n");
    CHECK_CONTAINS(s, "dragoman_queue_depth 5\n");
    CHECK_CONTAINS(s, "dragoman_batch_sentences_bucket{le=\"2\"} 0\n");
    CHECK_CONTAINS(s, "dragoman_batch_sentences_bucket{le=\"4\"} 1\n");
    CHECK_CONTAINS(s, "dragoman_batch_sentences_count 1\n");
    CHECK_CONTAINS(s, "dragoman_batch_sentences_sum 3.000000\n");
    CHECK_CONTAINS(s, "dragoman_tokens_in_total 10\n");
    CHECK_CONTAINS(s, "dragoman_tokens_out_total 7\n");
    CHECK_CONTAINS(s, "dragoman_model_info{model=\"en-de\",source=\"en\",target=\"de\"} 1\n");
    CHECK_CONTAINS(s, "# TYPE dragoman_request_duration_seconds histogram\n");
    free(s);
}

static void test_pairs(void)
{
    char s[16], t[16];
    CHECK_INT_EQ(dg_pair_from_folder_name("opus-mt-en-de", s, t, sizeof s), 0);
    CHECK_STR_EQ(s, "en");
    CHECK_STR_EQ(t, "de");
    CHECK_INT_EQ(dg_pair_from_folder_name("Helsinki-NLP--opus-mt-tc-big-en-pt-ft", s, t, sizeof s), 0);
    CHECK_STR_EQ(s, "en");
    CHECK_STR_EQ(t, "pt");
    CHECK_INT_EQ(dg_pair_from_folder_name("opus-mt-fr-eng", s, t, sizeof s), 0);
    CHECK_STR_EQ(t, "eng");
    CHECK_INT_EQ(dg_pair_from_folder_name("opus-mt-en", s, t, sizeof s), -1);
    CHECK_INT_EQ(dg_pair_from_folder_name("opus-mt-EN-de", s, t, sizeof s), -1);
    CHECK_INT_EQ(dg_pair_from_folder_name("demo-en-de", s, t, sizeof s), 0);
    CHECK_STR_EQ(s, "en");
    CHECK_STR_EQ(t, "de");
    CHECK_INT_EQ(dg_pair_from_folder_name("tied-swish", s, t, sizeof s), -1);
    CHECK_INT_EQ(dg_pair_from_folder_name("demo-en-de-v2", s, t, sizeof s), -1);
    CHECK_STR_EQ(dg_language_name("de"), "German");
    CHECK_STR_EQ(dg_language_name("xx"), "xx");
}

static void put_file(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* --model [NAME=]DIR[:TYPE]: a compute-type suffix is the model's own, others inherit
 * --compute-type; a ':' before anything else stays in the folder name. */
static void test_model_compute_types(void)
{
    char root[] = "/tmp/dg_modelsXXXXXX", spec[4][700], colon[600];
    CHECK(mkdtemp(root) != NULL);
    snprintf(colon, sizeof colon, "%s/a:b", root);
    CHECK(mkdir(colon, 0700) == 0);
    snprintf(spec[0], sizeof spec[0], "q8=%s:int8", root);
    snprintf(spec[1], sizeof spec[1], "plain=%s", root);
    snprintf(spec[2], sizeof spec[2], "ab=%s:bf16", colon);
    snprintf(spec[3], sizeof spec[3], "%s", colon);
    dg_serve_config c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < 3; i++)
        c.models[i] = spec[i];
    c.n_models = 3;
    c.compute_type = DG_COMPUTE_FLOAT32;
    dg_registry r;
    dg_err err = {0};
    CHECK_MSG(dg_registry_init(&r, &c, "/nonexistent", &err) == DG_OK, "%s", err.msg);
    CHECK_INT_EQ(r.n, 3);
    CHECK_STR_EQ(r.models[0].name, "q8");
    CHECK_STR_EQ(r.models[0].dir, root);
    CHECK_INT_EQ(r.models[0].load.compute_type, DG_COMPUTE_INT8);
    CHECK_STR_EQ(r.models[1].dir, root);
    CHECK_INT_EQ(r.models[1].load.compute_type, DG_COMPUTE_FLOAT32);
    CHECK_STR_EQ(r.models[2].dir, colon);
    CHECK_INT_EQ(r.models[2].load.compute_type, DG_COMPUTE_BFLOAT16);
    /* "a:b": not a type, so the whole string is the folder (whose name is not a valid model
     * name: it must be given one) */
    c.models[0] = spec[3];
    c.n_models = 1;
    CHECK(dg_registry_init(&r, &c, "/nonexistent", &err) != DG_OK);
    CHECK_CONTAINS(err.msg, "names use letters");
    snprintf(spec[3], sizeof spec[3], "%s:int4", root);
    CHECK(dg_registry_init(&r, &c, "/nonexistent", &err) != DG_OK);
    CHECK_CONTAINS(err.msg, "is not a folder");
    rmdir(colon);
    rmdir(root);
}

/* Fake cgroup trees: the binding limit is the smallest floor(quota / period) on the path from
 * our cgroup to the root, rounded down but at least 1, never above the affinity count. */
static void test_cpu_budget(void)
{
    char root[] = "/tmp/dg_cgroupXXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char d[600];
    snprintf(d, sizeof d, "%s/pod", root);
    mkdir(d, 0700);
    snprintf(d, sizeof d, "%s/pod/app", root);
    mkdir(d, 0700);
    put_file(root, "self", "0::/pod/app\n");
    put_file(root, "cpu.max", "max 100000\n");
    put_file(root, "pod/app/cpu.max", "max 100000\n");
    char self[600];
    snprintf(self, sizeof self, "%s/self", root);
    CHECK_INT_EQ(dg_cpu_budget_from(root, self, 8), 8);       /* no quota: the affinity */
    put_file(root, "pod/cpu.max", "250000 100000\n");         /* 2.5 CPUs on the parent */
    CHECK_INT_EQ(dg_cpu_budget_from(root, self, 8), 2);
    CHECK_INT_EQ(dg_cpu_budget_from(root, self, 1), 1);       /* affinity below the quota */
    put_file(root, "pod/app/cpu.max", "50000 100000\n");      /* half a CPU: still 1 thread */
    CHECK_INT_EQ(dg_cpu_budget_from(root, self, 8), 1);
    put_file(root, "self", "0::/\n");                          /* cgroup namespace: the root */
    put_file(root, "cpu.max", "400000 100000\n");
    CHECK_INT_EQ(dg_cpu_budget_from(root, self, 16), 4);
    snprintf(d, sizeof d, "%s/cpu", root);                     /* cgroup v1 */
    mkdir(d, 0700);
    put_file(root, "cpu.max", "max 100000\n");
    put_file(root, "cpu/cpu.cfs_quota_us", "300000\n");
    put_file(root, "cpu/cpu.cfs_period_us", "100000\n");
    CHECK_INT_EQ(dg_cpu_budget_from(root, self, 16), 3);
    put_file(root, "cpu/cpu.cfs_quota_us", "-1\n");
    CHECK_INT_EQ(dg_cpu_budget_from(root, self, 16), 16);
    CHECK(dg_cpu_budget() >= 1);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK_INT_EQ(system(cmd), 0);
}

/* ---- admission (scheduler.c), on a scheduler without threads: submit, then admit by hand ---- */

static void no_done(dg_job *j, void *arg)
{
    (void)j;
    (void)arg;
}

static dg_scheduler *bare_scheduler(dg_registry *reg, int budget)
{
    dg_scheduler *s = calloc(1, sizeof *s);
    s->reg = reg;
    s->max_batch_tokens = budget;
    s->max_queue = 1000;
    s->timeout_ms = 600000;
    s->accepting = 1;
    s->workers_planned = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->queues = calloc(1, sizeof *s->queues);
    s->pos_bytes = calloc(1, sizeof *s->pos_bytes);
    s->pos_bytes[0] = 1544;
    return s;
}

/* n sentences of n_ids tokens, each costing n_ids + beams x (max_new + 1) positions */
static dg_job *job(dg_scheduler *s, int n, int n_ids, int beams, int max_new, int want_status)
{
    dg_job *j = dg_job_create(n);
    j->model_index = 0;
    j->opts.num_beams = beams;
    j->opts.max_new_tokens = max_new;
    j->done = no_done;
    for (int i = 0; i < n; i++)
        j->s[i].n_ids = n_ids;
    dg_api_error e;
    CHECK_INT_EQ(dg_scheduler_submit(s, j, &e), want_status);
    if (want_status) {  /* never submitted: nothing else holds it */
        CHECK_CONTAINS(e.msg, "--max-batch-tokens (8192)");
        dg_job_release(j);
        return NULL;
    }
    return j;
}

/* Admits into worker w (cost = what its batch holds); the admitted sentences' jobs, in order. */
static int admit(dg_scheduler *s, dg_worker *w, dg_job **order, dg_sentence **got)
{
    pthread_mutex_lock(&s->mu);
    int n = dg_admit_locked(s, w, 0, got, 64);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++) {
        order[i] = got[i]->job;
        w->cost[0] += got[i]->cost;
    }
    return n;
}

static void finish(dg_scheduler *s, dg_job **jobs, int n_jobs, dg_sentence **got, int n_got)
{
    for (int i = 0; i < n_got; i++)
        dg_sentence_release(got[i]);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < n_jobs; i++)
        dg_job_finish_locked(s, jobs[i], DG_JOB_DONE, DG_API_INTERNAL, "");
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n_jobs; i++)
        dg_job_release(jobs[i]);
    free(s->queues);
    free(s->pos_bytes);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->changed);
    free(s);
}

static void test_admission(void)
{
    static dg_registry reg;
    dg_err err;
    reg.n = 1;
    reg.models[0].model = dg_model_load(DG_SOURCE_DIR "/models/demo-en-de", &err);
    CHECK(reg.models[0].model != NULL);
    if (!reg.models[0].model)
        return;
    dg_sentence *got[64];
    dg_job *order[64];
    int wcost;
    dg_worker w = {.cost = &wcost};

    /* round-robin: a 6-sentence request and a 2-sentence one submitted after it interleave */
    dg_scheduler *s = bare_scheduler(&reg, 8192);
    wcost = 0;
    dg_job *a = job(s, 6, 10, 1, 100, 0), *b = job(s, 2, 10, 1, 100, 0);
    int n = admit(s, &w, order, got);
    CHECK_INT_EQ(n, 8);
    dg_job *want[] = {a, b, a, b, a, a, a, a};
    for (int i = 0; i < n && i < 8; i++)
        CHECK_MSG(order[i] == want[i], "admission %d: request %c", i, order[i] == a ? 'a' : 'b');
    CHECK_INT_EQ(got[0]->cost, 10 + 1 * 101);
    finish(s, (dg_job *[]){a, b}, 2, got, n);

    /* one request holds at most half the batch; a sentence over half is refused at submit */
    s = bare_scheduler(&reg, 8192);
    wcost = 0;
    dg_job *c = job(s, 10, 10, 8, 500, 0);  /* 4018 positions each: one at a time */
    job(s, 1, 10, 16, 500, 400);            /* 8026 > 4096: 400 naming the limit */
    n = admit(s, &w, order, got);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(atomic_load(&c->batch_cost), 4018);
    dg_job *d = job(s, 3, 10, 1, 100, 0);   /* another request still gets in */
    int n2 = admit(s, &w, order, got + n);
    CHECK_INT_EQ(n2, 3);
    finish(s, (dg_job *[]){c, d}, 2, got, n + n2);

    /* aging: a large sentence kept out of a full batch for more than DG_AGING_S stops the
     * admission of small ones until the batch has room for it */
    for (int aged = 0; aged < 2; aged++) {
        s = bare_scheduler(&reg, 8192);
        wcost = 8192 - 200;                 /* room for a small sentence, not a large one */
        dg_job *big = job(s, 1, 10, 8, 500, 0), *small = job(s, 1, 10, 1, 100, 0);
        if (aged)
            big->s[0].t_enqueue -= DG_AGING_S + 1;
        n = admit(s, &w, order, got);
        CHECK_INT_EQ(n, aged ? 0 : 1);
        wcost = 0;                          /* the batch drained: the large one goes first */
        n2 = admit(s, &w, order + n, got + n);
        CHECK_INT_EQ(n2, aged ? 2 : 1);
        if (aged && n2 == 2)
            CHECK(order[0] == big);
        finish(s, (dg_job *[]){big, small}, 2, got, n + n2);
    }
    dg_model_free(reg.models[0].model);
}

/* The route table (server/http/routes.c): one row per path, each with its own metrics label and
 * a handler; body routes name their content types, and a key is never asked of the pages
 * anyone may read. */
static void test_route_table(void)
{
    CHECK(dg_n_routes > 0 && dg_n_routes <= DG_METRICS_ROUTES);
    for (int i = 0; i < dg_n_routes; i++) {
        const dg_route *r = &dg_routes[i];
        CHECK(r->path[0] == '/' && r->handler && r->label && r->methods[0]);
        for (int j = 0; j < i; j++) {
            CHECK_MSG(strcmp(r->path, dg_routes[j].path), "path %s twice", r->path);
            CHECK_MSG(strcmp(r->label, dg_routes[j].label), "label %s twice", r->label);
        }
        bool post = strstr(r->methods, "POST") != NULL;
        CHECK_MSG(post == (r->content_types != NULL), "%s: content types iff it takes a body",
                  r->path);
        if (!strcmp(r->path, "/health") || !strcmp(r->path, "/") || !strcmp(r->path, "/languages"))
            CHECK(!r->needs_key);
        if (!strcmp(r->path, "/v1/translate") || !strcmp(r->path, "/detect"))
            CHECK(r->needs_key);
    }
}

int main(void)
{
    test_admission();
    test_cpu_budget();
    test_config();
    test_parse_v1();
    test_utf8();
    test_responses();
    test_errors();
    test_sentences();
    test_metrics();
    test_route_table();
    test_pairs();
    test_model_compute_types();
    return test_summary();
}
