/* `dragoman serve` settings: one declarative option table (server/config.c) drives command-line
 * parsing, DRAGOMAN_* environment variables, --help and the startup log line, Redis style.
 * Precedence: command line > environment > default. */
#ifndef DG_SERVE_CONFIG_H
#define DG_SERVE_CONFIG_H

#include <stdio.h>

#include "common/error.h"

#define DG_MAX_MODELS 16

typedef enum { DG_LOG_TEXT, DG_LOG_JSON } dg_log_format;

typedef struct {
    /* "[NAME=]DIR[:TYPE]" as given; parsed by the model registry */
    int n_models;
    char *models[DG_MAX_MODELS];
    char *host;
    char *api_keys;          /* file path, NULL = no authentication */
    char *cors_origins;      /* comma-separated origins or "*", NULL = no CORS headers */
    int port;                /* 0 = pick a free port */
    int workers;
    int threads_per_worker;  /* 0 = cores / workers */
    int http_threads;
    int max_batch_tokens;    /* KV-cache positions of one worker's batch */
    int max_memory_mb;       /* 0 = no budget */
    int max_connections;
    int max_body_total_mb;   /* request bodies buffered, all connections together */
    int body_timeout_ms;     /* request headers to the end of the body */
    int max_queue;           /* sentences waiting for a worker */
    int timeout_ms;
    int max_body_bytes;
    int max_texts;
    int max_input_tokens;
    int grace_ms;
    int cache_bytes;         /* translation cache budget; 0 = no cache */
    int log_format;          /* dg_log_format */
    int compute_type;        /* dg_compute_type */
    unsigned char source[24];/* per table row: 0 default, 1 environment, 2 command line */
} dg_serve_config;

/* Fills defaults, then the environment (getenv), then argv (argv[0] = "serve").
 * Returns DG_OK, or DG_E_INPUT naming the flag or variable. *help is set when --help was given
 * (the caller prints dg_serve_config_usage and exits 0). */
dg_code dg_serve_config_parse(dg_serve_config *c, int argc, char **argv, int *help, dg_err *err);
void dg_serve_config_free(dg_serve_config *c);

void dg_serve_config_usage(FILE *f);
/* One line "key=value (source) ..." for the startup log, into buf. */
void dg_serve_config_describe(const dg_serve_config *c, char *buf, size_t size);

#endif
