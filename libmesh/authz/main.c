/* SPDX-License-Identifier: Apache-2.0 */
/* mesh-authz: the decision daemon nginx, Envoy and Traefik ask (docs/man/mesh-authz.8). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/jansson.h>
#include <mesh/limits.h>
#include <mesh/mesh.h>

#include "config.h"
#include "log.h"
#include "secret.h"
#include "server.h"

#define EXIT_USAGE 2

static const char USAGE[] =
    "usage: mesh-authz [serve] --config FILE [--ready-file FILE]\n"
    "       mesh-authz --check-config --config FILE [--json]\n"
    "       mesh-authz hash-key --name NAME [--expires DATE]   (the key on stdin)\n"
    "       mesh-authz --help | --version\n"
    "\n"
    "serve              run the decision daemon (the default when no verb is given)\n"
    "hash-key           read a legacy API key from stdin (never the command line) and print\n"
    "                   its entry for an \"api-keys\" issuer's \"keys\": name, sha256 hash,\n"
    "                   expiry (--expires 2027-01-31 or ...T12:00:00Z, default \"never\")\n"
    "\n"
    "Answers a proxy's question \"may this request pass, and who is it?\": nginx auth_request\n"
    "(GET /nginx), Envoy ext_authz (/envoy/<original path>) and Traefik/Caddy forward auth\n"
    "(GET /forward), verifying the mesh token and its certificate binding for the route the\n"
    "config names.\n"
    "\n"
    "--config FILE      the JSON config (mesh-authz.json(5))\n"
    "--check-config     read the config, explain its listeners, trust and routes in plain\n"
    "                   words, exit 0 when it is valid, 1 when not (no network is used)\n"
    "--json             with --check-config: the explanation as JSON\n"
    "--ready-file FILE  once listening, write {\"pid\", \"listen\", \"metrics\"} there (the\n"
    "                   bound addresses, for port 0)\n"
    "\n"
    "Signals: SIGHUP reloads the config (a bad one is refused and the old one kept), SIGTERM\n"
    "and SIGINT stop. See mesh-authz(8) and docs/AUTHZ.md.\n";

/* mesh-authz hash-key: the key from stdin to {"name", "hash", "expires"} on stdout. */
static int hash_key(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"name", required_argument, NULL, 'n'},
        {"expires", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL, *expires = "never";
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            name = optarg;
            break;
        case 'e':
            expires = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            fputs(USAGE, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mesh-authz hash-key: unexpected argument; the key is read from stdin, "
                        "never from the command line (it would be in ps and the shell "
                        "history)\n");
        return EXIT_USAGE;
    }
    if (name == NULL) {
        fprintf(stderr, "mesh-authz hash-key: --name NAME is required (the key's name in "
                        "metrics and logs)\n");
        return EXIT_USAGE;
    }
    char key[MESH_AUTHZ_MAX_API_KEY_BYTES + 2];
    size_t n = fread(key, 1, sizeof(key), stdin);
    while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r')) {
        n--;
    }
    int rc = 1;
    uint8_t h[32];
    if (n > MESH_AUTHZ_MAX_API_KEY_BYTES) {
        fprintf(stderr,
                "mesh-authz hash-key: the key on stdin is over %d bytes "
                "(MESH_AUTHZ_MAX_API_KEY_BYTES)\n",
                MESH_AUTHZ_MAX_API_KEY_BYTES);
    } else if (n < MESH_AUTHZ_MIN_API_KEY_BYTES) {
        fprintf(stderr,
                "mesh-authz hash-key: the key on stdin is %zu bytes; an API key must be random "
                "and at least %d bytes (MESH_AUTHZ_MIN_API_KEY_BYTES), e.g. openssl rand -hex "
                "32\n",
                n, MESH_AUTHZ_MIN_API_KEY_BYTES);
    } else if (memchr(key, '\n', n) != NULL) {
        fprintf(stderr, "mesh-authz hash-key: stdin holds more than one line; give one key\n");
    } else if (secret_sha256(key, n, h)) {
        char hex[65];
        for (size_t i = 0; i < 32; i++) {
            snprintf(hex + 2 * i, 3, "%02x", h[i]);
        }
        json_t *o =
            json_pack("{s:s, s:s+, s:s}", "name", name, "hash", "sha256:", hex, "expires", expires);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (text != NULL) {
            printf("%s\n", text);
            rc = 0;
        }
        free(text);
        json_decref(o);
        secret_wipe(h, sizeof(h));
    }
    secret_wipe(key, sizeof(key));
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"ready-file", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *ready = NULL;
    bool check = false, json = false;
    int ch;
    if (argc > 1 && strcmp(argv[1], "hash-key") == 0) {
        return hash_key(argc - 1, argv + 1);
    }
    if (argc > 1 && strcmp(argv[1], "serve") == 0) {
        argv[1] = argv[0]; /* the verb is the default: drop it */
        argv++;
        argc--;
    }
    while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'k':
            check = true;
            break;
        case 'j':
            json = true;
            break;
        case 'r':
            ready = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        case 'V':
            printf("mesh-authz %s\n", MESH_VERSION);
            return 0;
        default:
            fputs(USAGE, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mesh-authz: unexpected argument '%s'\n%s", argv[optind], USAGE);
        return EXIT_USAGE;
    }
    if (config == NULL) {
        fprintf(stderr, "mesh-authz: --config FILE is required\n%s", USAGE);
        return EXIT_USAGE;
    }
    if (json && !check) {
        fprintf(stderr, "mesh-authz: --json goes with --check-config\n");
        return EXIT_USAGE;
    }
    char err[1024];
    config_t *cfg = config_load(config, err, sizeof(err));
    if (cfg == NULL) {
        if (check && json) {
            config_explain_error(err);
        } else {
            fprintf(stderr, "mesh-authz: %s\n", err);
        }
        return 1;
    }
    if (check && !config_check_files(cfg, err, sizeof(err))) {
        if (json) {
            config_explain_error(err);
        } else {
            fprintf(stderr, "mesh-authz: %s: %s\n", config, err);
        }
        config_unref(cfg);
        return 1;
    }
    if (check) {
        config_explain(cfg, json);
        config_unref(cfg);
        return 0;
    }
    if (!config_start(cfg, err, sizeof(err))) {
        log_msg("%s", err);
        config_unref(cfg);
        return 1;
    }
    return server_run(cfg, ready);
}
