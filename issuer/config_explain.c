/* SPDX-License-Identifier: Apache-2.0 */
/* --check-config: what a loaded config means, in plain words. */
#include "config.h"

static void print_list(FILE *f, char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s%s", i ? ", " : "", v[i]);
    }
}

void config_explain(const config_t *cfg, FILE *f)
{
    char w[32];
    snprintf(w, sizeof(w), "%d", cfg->workers);
    fprintf(f, "issuer %s listens on %s:%d with %s worker threads\n", cfg->issuer, cfg->listen_host,
            cfg->listen_port, cfg->workers ? w : "one per core");
    fprintf(f, "  TLS certificate %s, client certificates checked against %s%s%s\n", cfg->tls_cert,
            cfg->tls_ca, cfg->tls_crl ? " and the CRL " : "", cfg->tls_crl ? cfg->tls_crl : "");
    fprintf(f, "  signs with %s%s%s%s%s\n", cfg->key_current,
            cfg->key_next ? "; publishes next " : "", cfg->key_next ? cfg->key_next : "",
            cfg->key_previous ? "; publishes previous " : "",
            cfg->key_previous ? cfg->key_previous : "");
    fprintf(f, "  store %s\n", cfg->store);
    fprintf(f,
            "  token lifetime %llds by default, %lld..%llds allowed; service-token tokens "
            "at most %llds; clock skew %llds\n",
            (long long)cfg->ttl_default, (long long)cfg->ttl_min, (long long)cfg->ttl_max,
            (long long)cfg->svc_ttl_max, (long long)cfg->skew);
    fprintf(f, "audiences:\n");
    for (size_t i = 0; i < cfg->n_audiences; i++) {
        fprintf(f, "  %s (scopes: ", cfg->audiences[i].name);
        print_list(f, cfg->audiences[i].scopes, cfg->audiences[i].n_scopes);
        fprintf(f, ")%s%s\n", cfg->audiences[i].description ? " - " : "",
                cfg->audiences[i].description ? cfg->audiences[i].description : "");
    }
    fprintf(f, "policy:\n");
    if (cfg->n_policy == 0) {
        fprintf(f, "  (none: no certificate holder can get a token)\n");
    }
    for (size_t i = 0; i < cfg->n_policy; i++) {
        const cfg_policy_t *p = &cfg->policy[i];
        fprintf(f, "  %s may get tokens for ", p->identity);
        print_list(f, p->audiences, p->n_audiences);
        if (p->all_scopes) {
            fprintf(f, " with any of their scopes");
        } else {
            fprintf(f, " with scopes ");
            print_list(f, p->scopes, p->n_scopes);
        }
        fprintf(f, ", lifetime up to %llds\n", (long long)(p->max_ttl ? p->max_ttl : cfg->ttl_max));
    }
    fprintf(f, "admins (may revoke any token): ");
    if (cfg->n_admins == 0) {
        fprintf(f, "(none)");
    }
    print_list(f, cfg->admins, cfg->n_admins);
    fprintf(f,
            "\nrate limits: %.1f/s burst %.0f per identity, %.1f/s burst %.0f per source "
            "address (0 = unlimited)\n",
            cfg->rl_identity.rate, cfg->rl_identity.burst, cfg->rl_source.rate,
            cfg->rl_source.burst);
    if (!cfg->certs.enabled) {
        fprintf(f, "certificates: not signed here (no certificates section)\n");
        return;
    }
    fprintf(f,
            "certificates: signed by %s for spiffe://%s/<service>, %llds unless a service says "
            "otherwise (bounds %lld..%llds); CRL written to %s\n",
            cfg->certs.ca_cert, cfg->certs.trust_domain, (long long)cfg->certs.default_lifetime,
            (long long)cfg->certs.min_lifetime, (long long)cfg->certs.max_lifetime, cfg->certs.crl);
    for (size_t i = 0; i < cfg->certs.n_services; i++) {
        const cfg_cert_service_t *svc = &cfg->certs.services[i];
        fprintf(f, "  %s: DNS ", svc->name);
        print_list(f, svc->dns, svc->n_dns);
        fprintf(f, "; IP ");
        if (svc->n_ips == 0) {
            fprintf(f, "(none)");
        }
        print_list(f, svc->ips, svc->n_ips);
        fprintf(f, "; %llds\n",
                (long long)(svc->lifetime ? svc->lifetime : cfg->certs.default_lifetime));
    }
}
