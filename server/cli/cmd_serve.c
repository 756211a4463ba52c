/* DESIGN: `dragoman serve` start-up and shutdown order. Signals are blocked before any thread
 * starts and taken synchronously by the main thread (sigtimedwait), so no handler runs in a
 * random thread. The listener starts before models load: /health answers at once, /ready says
 * 503 until the scheduler runs. SIGTERM/SIGINT: stop accepting connections, answer new
 * requests on open ones with 503, let in-flight jobs finish within --grace-ms, then fail the
 * rest, wait (briefly) for their replies to be written and their connections to close (every
 * reply during the drain says Connection: close), stop MHD and exit 0. */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/sched/cache.h"
#include "server/cli/commands.h"
#include "server/cli/default_model.h"
#include "server/http/http.h"
#include "server/obs/log.h"

#define REPLY_FLUSH_S 2.0  /* after the drain, time for resumed replies to be written */

static void free_keys(dg_server *srv)
{
    for (int i = 0; i < srv->n_api_keys; i++)
        free(srv->api_keys[i]);
    free(srv->api_keys);
    srv->api_keys = NULL;
    srv->n_api_keys = 0;
}

/* One key per line; blank lines and lines starting with '#' are skipped. */
static dg_code load_keys(dg_server *srv, const char *path, dg_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return dg_err_set(err, DG_E_IO, "--api-keys: cannot read '%s'", path);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *s = line, *e = line + strlen(line);
        while (*s && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = 0;
        if (!*s || *s == '#')
            continue;
        char **nk = realloc(srv->api_keys, (size_t)(srv->n_api_keys + 1) * sizeof *nk);
        if (!nk || !(nk[srv->n_api_keys] = strdup(s))) {
            if (nk)
                srv->api_keys = nk;
            fclose(f);
            return dg_err_set(err, DG_E_NOMEM, "out of memory");
        }
        srv->api_keys = nk;
        srv->n_api_keys++;
    }
    fclose(f);
    if (!srv->n_api_keys)
        return dg_err_set(err, DG_E_INPUT, "--api-keys: '%s' holds no key", path);
    return DG_OK;
}

/* Waits up to timeout_s for SIGTERM/SIGINT; returns the signal or 0. */
static int wait_signal(const sigset_t *set, double timeout_s)
{
    struct timespec ts = {(time_t)timeout_s, (long)((timeout_s - (time_t)timeout_s) * 1e9)};
    int sig = sigtimedwait(set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

static int shutdown_server(dg_server *srv, int sig)
{
    /* New work gets 503 with Connection: close from here on. The listener stays open (probes
     * see /ready 503, not a refused connection): libmicrohttpd 0.9.75's MHD_quiesce_daemon
     * races its epoll pool threads and aborts the process ("Failed to remove listen FD from
     * epoll set"), an open upstream defect. */
    atomic_store(&srv->draining, 1);
    /* logged once new work is refused: tests (and operators) may rely on that order */
    dg_log_info("received %s: draining (grace %d ms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
                srv->cfg->grace_ms);
    if (srv->sched)
        dg_scheduler_drain(srv->sched, srv->cfg->grace_ms);
    /* every reply now carries Connection: close, so connections go away as their last reply is
     * written; one still open is a keep-alive client that may yet send a request (it gets 503
     * and close). Stopping MHD earlier would reset such a request unanswered. */
    double end = dg_now() + REPLY_FLUSH_S;
    while ((atomic_load(&srv->open_requests) > 0 || dg_http_connections(srv) > 0) &&
           dg_now() < end)
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    dg_http_stop(srv);
    dg_scheduler_free(srv->sched);
    srv->sched = NULL;
    dg_log_info("stopped");
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    dg_serve_config cfg;
    dg_err err = {0};
    int help, rc = 1;
    if (dg_serve_config_parse(&cfg, argc, argv, &help, &err)) {
        fprintf(stderr, "dragoman serve: %s\n", err.msg);
        dg_serve_config_free(&cfg);
        return 2;
    }
    if (help) {
        dg_serve_config_usage(stdout);
        dg_serve_config_free(&cfg);
        return 0;
    }
    dg_log_init(cfg.log_format);
    static dg_registry reg;  /* large (paths per model): static, one server per process */
    dg_server srv = {.cfg = &cfg, .reg = &reg, .cache = dg_cache_create((size_t)cfg.cache_bytes)};
    if ((cfg.api_keys && load_keys(&srv, cfg.api_keys, &err)) ||
        dg_registry_init(&reg, &cfg, dg_default_model_dir(), &err)) {
        fprintf(stderr, "dragoman serve: %s\n", err.msg);
        free_keys(&srv);
        dg_cache_free(srv.cache);
        dg_serve_config_free(&cfg);
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);  /* before any thread exists: all inherit it */
    signal(SIGPIPE, SIG_IGN);
    char desc[2048];
    dg_serve_config_describe(&cfg, desc, sizeof desc);
    dg_log_info("config: %s", desc);
    if (dg_http_start(&srv, &err)) {
        dg_log_error("%s", err.msg);
        goto out;
    }
    /* tests and scripts read this line to find a port picked with --port 0 */
    printf("dragoman: listening on %s port %d\n", cfg.host, srv.port);
    fflush(stdout);
    dg_log_info("listening on %s port %d", cfg.host, srv.port);
    for (int i = 0; i < reg.n; i++)
        dg_log_info("model '%s': %s -> %s from %s", reg.models[i].name,
                    reg.models[i].source[0] ? reg.models[i].source : "?",
                    reg.models[i].target[0] ? reg.models[i].target : "?", reg.models[i].dir);
    if (dg_registry_load(&reg, &err) || !(srv.sched = dg_scheduler_create(&reg, &cfg, &err))) {
        dg_log_error("%s", err.msg);
        dg_http_stop(&srv);
        goto out;
    }
    atomic_store(&srv.ready, 1);
    dg_log_info("ready: %d model(s), %d worker(s)", reg.n, cfg.workers);
    int sig;
    while (!(sig = wait_signal(&set, 3600)))
        ;
    rc = shutdown_server(&srv, sig);
out:
    dg_cache_free(srv.cache);
    dg_registry_free(&reg);
    free_keys(&srv);
    dg_serve_config_free(&cfg);
    return rc;
}
