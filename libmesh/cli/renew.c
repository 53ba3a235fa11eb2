/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh renew: renews this service's certificate pair in place (renew.h), once or as a daemon
 * (--daemon) for programs that do not link libmesh (nginx, a Python service), running a
 * command (--exec) or signalling a process (--signal PID[:SIG]) after each renewal, as
 * `step ca renew --daemon` does.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mesh/jansson.h>
#include <mesh/mesh.h>
#include <mesh/renew.h>

#include "cli.h"
#include "client_env.h"

enum {
    OPT_JOIN = 1100,
    OPT_DAEMON,
    OPT_EXEC,
    OPT_SIGNAL,
    OPT_FRACTION,
    OPT_KEY_TYPE,
    OPT_JSON,
    OPT_RETRY_MAX
};

static void renew_help(void)
{
    printf("usage: mesh renew [--daemon] [--exec CMD] [--signal PID[:SIG]] [--join-token T]\n"
           "                  [--fraction F] [--key-type T] [--retry-max-ms MS] [--json]\n"
           "                  [identity]\n\n"
           "Renews this service's certificate: a new key, a CSR to the issuer (POST\n"
           "/v1/certificate) over mTLS with the current certificate, the new pair written in\n"
           "place (the key 0600 from its first byte; readers never see a mismatched pair).\n"
           "Without a valid certificate, the first one comes with a one-time join token\n"
           "(--join-token, or better MESH_JOIN_TOKEN: flags show in ps).\n\n"
           "  --daemon           keep the pair renewed: renew at F of each certificate's\n"
           "                     lifetime (default 2/3, +-5%% jitter), retry with backoff while\n"
           "                     the issuer is down, until the certificate expires; SIGHUP\n"
           "                     renews now, SIGTERM/SIGINT stop\n"
           "  --exec CMD         after each renewal run CMD with /bin/sh -c (e.g.\n"
           "                     'nginx -s reload'); its failure is reported, not fatal\n"
           "  --signal PID[:SIG] after each renewal send SIG (default HUP) to PID\n"
           "  --fraction F       renew at F of the lifetime, 0 < F < 1\n"
           "  --key-type T       p256 (default), ed25519, rsa2048, rsa3072\n"
           "  --retry-max-ms MS  the longest wait between retries (default 300000)\n"
           "  --json             one JSON object per line for each renewal or failure\n\n"
           "Exit status: 0 renewed (once) or stopped by a signal (--daemon); 1 the renewal\n"
           "failed (once) or was given up (--daemon: the issuer refused, or the certificate\n"
           "expired with no join token); 2 usage or configuration error.\n\n%s",
           CLI_CLIENT_HELP);
}

typedef struct {
    const char *exec;
    pid_t sig_pid;
    int sig;
    bool json;
    bool once_done;
    pthread_mutex_t mu;
    int last_final_rc;
} daemon_t;

static void print_event(const daemon_t *d, mesh_err_t rc, bool final, const mesh_renew_info_t *info)
{
    if (d->json) {
        json_t *o =
            rc == MESH_OK
                ? json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "event", "renewed", "spiffe_id",
                            info->spiffe_id, "serial", info->serial, "not_before",
                            (json_int_t)info->not_before, "not_after", (json_int_t)info->not_after,
                            "renew_at", (json_int_t)info->renew_at)
                : json_pack("{s:s, s:s, s:s, s:b}", "event", "failed", "error", mesh_err_name(rc),
                            "detail", mesh_err_detail(), "final", final);
        char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (text != NULL) {
            printf("%s\n", text);
        }
        free(text);
        json_decref(o);
    } else if (rc == MESH_OK) {
        printf("renewed %s: serial %s, valid until %lld%s", info->spiffe_id, info->serial,
               (long long)info->not_after, info->renew_at > 0 ? ", next renewal at " : "\n");
        if (info->renew_at > 0) {
            printf("%lld\n", (long long)info->renew_at);
        }
    } else {
        fprintf(stderr, "mesh renew: %s: %s%s\n", mesh_err_name(rc), mesh_err_detail(),
                final ? " (giving up)" : " (will retry)");
    }
    fflush(stdout);
}

/* After a renewal: the command, then the signal. Failures are reported, never fatal. */
static void after_renewal(const daemon_t *d)
{
    if (d->exec != NULL) {
        pid_t pid = fork();
        if (pid == 0) {
            sigset_t none;
            sigemptyset(&none);
            pthread_sigmask(SIG_SETMASK, &none, NULL);
            execl("/bin/sh", "sh", "-c", d->exec, (char *)NULL);
            _exit(127);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "mesh renew: --exec '%s' failed (%s)\n", d->exec,
                    pid < 0 ? strerror(errno) : "non-zero exit");
        }
    }
    if (d->sig_pid > 0 && kill(d->sig_pid, d->sig) != 0) {
        fprintf(stderr, "mesh renew: --signal %d: %s\n", (int)d->sig_pid, strerror(errno));
    }
}

static void on_event(void *arg, mesh_err_t rc, bool final, const mesh_renew_info_t *info)
{
    daemon_t *d = arg;

    print_event(d, rc, final, info);
    if (rc == MESH_OK) {
        after_renewal(d);
    }
    if (final) {
        pthread_mutex_lock(&d->mu);
        d->last_final_rc = rc;
        pthread_mutex_unlock(&d->mu);
        kill(getpid(), SIGUSR1); /* wakes the main thread's sigwait */
    }
}

static bool parse_signal(const char *arg, daemon_t *d)
{
    char *end = NULL;
    long pid = strtol(arg, &end, 10);
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"HUP", SIGHUP}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},  {"TERM", SIGTERM},
                 {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"WINCH", SIGWINCH}};

    if (end == arg || pid <= 1 || (*end != '\0' && *end != ':')) {
        return false;
    }
    d->sig_pid = (pid_t)pid;
    d->sig = SIGHUP;
    if (*end == ':') {
        const char *s = end + 1;
        if (strncmp(s, "SIG", 3) == 0) {
            s += 3;
        }
        d->sig = 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (strcmp(s, names[i].name) == 0) {
                d->sig = names[i].sig;
            }
        }
        if (d->sig == 0) {
            return false;
        }
    }
    return true;
}

static int run_daemon(const mesh_renew_opts_t *o, daemon_t *d)
{
    sigset_t set;
    mesh_renewer_t *r = NULL;
    mesh_err_t rc;
    int sig = 0, status = CLI_OK;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* the renewer's thread inherits the mask */
    if ((rc = mesh_renewer_new(o, on_event, d, &r)) != MESH_OK) {
        return cli_mesh_error("renew", rc, CLI_USAGE);
    }
    for (;;) {
        if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            mesh_renewer_kick(r);
            continue;
        }
        if (sig == SIGUSR1) {
            pthread_mutex_lock(&d->mu);
            bool gave_up = d->last_final_rc != MESH_OK;
            pthread_mutex_unlock(&d->mu);
            if (!gave_up) {
                continue;
            }
            status = CLI_FAIL;
        }
        break;
    }
    mesh_renewer_free(r);
    return status;
}

int cmd_renew(int argc, char **argv)
{
    static const struct option opts[] = {{"join-token", required_argument, NULL, OPT_JOIN},
                                         {"daemon", no_argument, NULL, OPT_DAEMON},
                                         {"exec", required_argument, NULL, OPT_EXEC},
                                         {"signal", required_argument, NULL, OPT_SIGNAL},
                                         {"fraction", required_argument, NULL, OPT_FRACTION},
                                         {"key-type", required_argument, NULL, OPT_KEY_TYPE},
                                         {"retry-max-ms", required_argument, NULL, OPT_RETRY_MAX},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         CLI_CLIENT_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    daemon_t d = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const char *join = NULL, *fraction = NULL, *key_type = NULL;
    long long retry_max = 0;
    bool daemon = false;
    mesh_renew_opts_t *o = NULL;
    mesh_renew_info_t info;
    cli_identity_t id;
    mesh_key_type_t kt = MESH_KEY_P256;
    mesh_err_t rc;
    int c, status;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_client_opt(c, optarg)) {
            continue;
        }
        switch (c) {
        case 'h':
            renew_help();
            return CLI_OK;
        case OPT_JOIN:
            join = optarg;
            break;
        case OPT_DAEMON:
            daemon = true;
            break;
        case OPT_EXEC:
            d.exec = optarg;
            break;
        case OPT_SIGNAL:
            if (!parse_signal(optarg, &d)) {
                return cli_usage_error("renew",
                                       "--signal needs PID or PID:SIG (SIG one of HUP, "
                                       "USR1, USR2, TERM, INT, QUIT, WINCH), got '%s'",
                                       optarg);
            }
            break;
        case OPT_FRACTION:
            fraction = optarg;
            break;
        case OPT_KEY_TYPE:
            key_type = optarg;
            break;
        case OPT_JSON:
            d.json = true;
            break;
        case OPT_RETRY_MAX:
            if (!cli_parse_int64("renew", "--retry-max-ms", optarg, &retry_max) || retry_max <= 0) {
                return CLI_USAGE;
            }
            break;
        default:
            return cli_usage_error("renew", "unknown option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("renew", "takes no arguments, got '%s'", argv[optind]);
    }
    if (key_type != NULL && !mesh_key_type_from_name(key_type, &kt)) {
        return cli_usage_error("renew",
                               "--key-type: '%s' is not p256, ed25519, rsa2048 or "
                               "rsa3072",
                               key_type);
    }
    if (join == NULL) {
        join = getenv("MESH_JOIN_TOKEN");
    }
    cli_identity_resolve(&id);
    rc = mesh_renew_opts_new(&o);
    if (rc == MESH_OK && id.issuer == NULL) {
        rc = mesh_err_set(MESH_ERR_CONFIG, "no issuer: give --issuer or MESH_ISSUER_URL");
    }
    if (rc == MESH_OK && (id.cert == NULL || id.key == NULL || id.ca == NULL)) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "give where the pair lives: --cert and --key (or "
                          "TLS_CERT_PATH/TLS_KEY_PATH, or --certs-dir with --service) and --ca");
    }
    if (rc == MESH_OK) {
        char *end = NULL;
        double f = fraction != NULL ? strtod(fraction, &end) : 0;
        if (fraction != NULL && (end == fraction || *end != '\0')) {
            rc = mesh_err_set(MESH_ERR_INVALID_ARG, "--fraction: '%s' is not a number", fraction);
        }
        if (rc == MESH_OK &&
            ((rc = mesh_renew_opts_set_issuer_url(o, id.issuer)) != MESH_OK ||
             (rc = mesh_renew_opts_set_cert_path(o, id.cert)) != MESH_OK ||
             (rc = mesh_renew_opts_set_key_path(o, id.key)) != MESH_OK ||
             (rc = mesh_renew_opts_set_ca_path(o, id.ca)) != MESH_OK ||
             (rc = mesh_renew_opts_set_key_type(o, kt)) != MESH_OK ||
             (join != NULL && (rc = mesh_renew_opts_set_join_token(o, join)) != MESH_OK) ||
             (fraction != NULL && (rc = mesh_renew_opts_set_fraction(o, f)) != MESH_OK) ||
             (retry_max > 0 && (rc = mesh_renew_opts_set_retry_max_ms(o, retry_max)) != MESH_OK))) {
            /* detail set */
        }
    }
    cli_identity_free(&id);
    if (rc != MESH_OK) {
        mesh_renew_opts_free(o);
        return cli_mesh_error("renew", rc, CLI_USAGE);
    }
    if (daemon) {
        status = run_daemon(o, &d);
    } else if ((rc = mesh_renew_once(o, &info)) != MESH_OK) {
        status = d.json ? (print_event(&d, rc, true, NULL), CLI_FAIL)
                        : cli_mesh_error("renew", rc, rc == MESH_ERR_CONFIG ? CLI_USAGE : CLI_FAIL);
    } else {
        print_event(&d, MESH_OK, false, &info);
        after_renewal(&d);
        status = CLI_OK;
    }
    mesh_renew_opts_free(o);
    return status;
}
