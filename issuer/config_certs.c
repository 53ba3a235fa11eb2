/* SPDX-License-Identifier: Apache-2.0 */
/* The `certificates` section of the issuer's config (docs/CONFIG.md, docs/CERTIFICATES.md). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "config.h"
#include "config_json.h"

/* RFC 1035 label, lowercase: [a-z0-9-]{1,63}, no hyphen at either end. */
static bool label_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) {
            return false;
        }
    }
    return true;
}

static bool dns_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 253) {
        return false;
    }
    for (const char *p = s; *p != '\0';) {
        size_t k = strcspn(p, ".");
        if (!label_ok(p, k)) {
            return false;
        }
        p += k;
        p += *p == '.';
        if (*p == '\0' && p[-1] == '.') {
            return false;
        }
    }
    return true;
}

static bool ip_ok(const char *s)
{
    unsigned char raw[16];

    return inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, raw) == 1;
}

static bool parse_service(ctx_t *c, const json_t *o, const char *path, const cfg_certs_t *cc,
                          cfg_cert_service_t *svc)
{
    static const char *const known[] = {"name", "dns", "ips", "lifetime", NULL};
    char p[300];
    bool present = false;

    if (!json_is_object(o)) {
        return cfg_fail(c, path, "must be an object like {\"name\": \"svc-a\"}, got %s",
                        cfg_type_name(o));
    }
    if (!cfg_only_known(c, o, path, known) || !cfg_get_str(c, o, path, "name", true, &svc->name)) {
        return false;
    }
    if (!label_ok(svc->name, strlen(svc->name))) {
        cfg_join(p, sizeof(p), path, "name");
        return cfg_fail(c, p,
                        "'%s' is not a service name: 1-63 lowercase letters, digits or hyphens",
                        svc->name);
    }
    if (!cfg_get_str_array(c, o, path, "dns", false, &svc->dns, &svc->n_dns, &present)) {
        return false;
    }
    if (!present) { /* DESIGN.md "Identity": the service name is its DNS name */
        if ((svc->dns = calloc(1, sizeof(char *))) == NULL ||
            (svc->dns[0] = strdup(svc->name)) == NULL) {
            return cfg_fail(c, path, "out of memory");
        }
        svc->n_dns = 1;
    }
    for (size_t i = 0; i < svc->n_dns; i++) {
        if (!dns_ok(svc->dns[i])) {
            (void)snprintf(p, sizeof(p), "%s.dns[%zu]", path, i);
            return cfg_fail(c, p, "'%s' is not a lowercase DNS name", svc->dns[i]);
        }
    }
    if (!cfg_get_str_array(c, o, path, "ips", false, &svc->ips, &svc->n_ips, NULL)) {
        return false;
    }
    for (size_t i = 0; i < svc->n_ips; i++) {
        if (!ip_ok(svc->ips[i])) {
            (void)snprintf(p, sizeof(p), "%s.ips[%zu]", path, i);
            return cfg_fail(c, p, "'%s' is not an IPv4 or IPv6 address", svc->ips[i]);
        }
    }
    return cfg_get_int(c, o, path, "lifetime", 0, 0, MESH_CERT_LIFETIME_MAX, &svc->lifetime) &&
           (svc->lifetime == 0 ||
            (svc->lifetime >= cc->min_lifetime && svc->lifetime <= cc->max_lifetime) ||
            cfg_fail(c, path,
                     "lifetime %lld must lie within min_lifetime..max_lifetime (%lld..%lld)",
                     (long long)svc->lifetime, (long long)cc->min_lifetime,
                     (long long)cc->max_lifetime));
}

static bool parse_services(ctx_t *c, const json_t *sec, cfg_certs_t *cc)
{
    json_t *arr = json_object_get(sec, "services");
    char p[64];

    if (arr == NULL || !json_is_array(arr) || json_array_size(arr) == 0) {
        return cfg_fail(c, "certificates.services",
                        "required: a non-empty array of {\"name\": SERVICE, \"dns\": [...], "
                        "\"ips\": [...]}, the services this issuer signs certificates for");
    }
    if (json_array_size(arr) > MESH_MAX_CERT_SERVICES) {
        return cfg_fail(c, "certificates.services", "more than %d entries", MESH_MAX_CERT_SERVICES);
    }
    if ((cc->services = calloc(json_array_size(arr), sizeof(*cc->services))) == NULL) {
        return cfg_fail(c, "certificates.services", "out of memory");
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        (void)snprintf(p, sizeof(p), "certificates.services[%zu]", i);
        cc->n_services = i + 1;
        if (!parse_service(c, json_array_get(arr, i), p, cc, &cc->services[i])) {
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cc->services[j].name, cc->services[i].name) == 0) {
                return cfg_fail(c, p, "service '%s' is listed twice", cc->services[i].name);
            }
        }
    }
    return true;
}

bool cfg_parse_certs(ctx_t *c, config_t *cfg, const json_t *root)
{
    static const char *const known[] = {"ca_cert",      "ca_key",       "crl",
                                        "trust_domain", "services",     "default_lifetime",
                                        "min_lifetime", "max_lifetime", NULL};
    const json_t *sec = json_object_get(root, "certificates");
    cfg_certs_t *cc = &cfg->certs;
    const char *s = "certificates";

    if (sec == NULL) {
        return true; /* POST /v1/certificate answers 404 saying so */
    }
    if (!json_is_object(sec)) {
        return cfg_fail(c, s, "must be an object, got %s", cfg_type_name(sec));
    }
    if (!cfg_only_known(c, sec, s, known) ||
        !cfg_get_path(c, sec, s, "ca_cert", true, &cc->ca_cert) ||
        !cfg_get_path(c, sec, s, "ca_key", true, &cc->ca_key) ||
        !cfg_get_path(c, sec, s, "crl", true, &cc->crl) ||
        !cfg_get_str(c, sec, s, "trust_domain", true, &cc->trust_domain)) {
        return false;
    }
    if (!dns_ok(cc->trust_domain)) {
        return cfg_fail(c, "certificates.trust_domain",
                        "'%s' is not a trust domain: a lowercase DNS name such as mesh.local",
                        cc->trust_domain);
    }
    if (!cfg_get_int(c, sec, s, "min_lifetime", MESH_CERT_MIN_LIFETIME_DEFAULT,
                     MESH_CERT_LIFETIME_MIN, MESH_CERT_LIFETIME_MAX, &cc->min_lifetime) ||
        !cfg_get_int(c, sec, s, "max_lifetime", MESH_CERT_MAX_LIFETIME_DEFAULT,
                     MESH_CERT_LIFETIME_MIN, MESH_CERT_LIFETIME_MAX, &cc->max_lifetime) ||
        !cfg_get_int(c, sec, s, "default_lifetime", MESH_CERT_LIFETIME_DEFAULT,
                     MESH_CERT_LIFETIME_MIN, MESH_CERT_LIFETIME_MAX, &cc->default_lifetime)) {
        return false;
    }
    if (cc->min_lifetime > cc->max_lifetime) {
        return cfg_fail(c, "certificates.min_lifetime", "%lld is above max_lifetime %lld",
                        (long long)cc->min_lifetime, (long long)cc->max_lifetime);
    }
    if (cc->default_lifetime < cc->min_lifetime || cc->default_lifetime > cc->max_lifetime) {
        return cfg_fail(c, "certificates.default_lifetime",
                        "%lld must lie within min_lifetime..max_lifetime (%lld..%lld)",
                        (long long)cc->default_lifetime, (long long)cc->min_lifetime,
                        (long long)cc->max_lifetime);
    }
    if (!parse_services(c, sec, cc)) {
        return false;
    }
    cc->enabled = true;
    return true;
}

void cfg_free_certs(config_t *cfg)
{
    cfg_certs_t *cc = &cfg->certs;

    free(cc->ca_cert);
    free(cc->ca_key);
    free(cc->crl);
    free(cc->trust_domain);
    for (size_t i = 0; i < cc->n_services; i++) {
        free(cc->services[i].name);
        cfg_free_strs(cc->services[i].dns, cc->services[i].n_dns);
        cfg_free_strs(cc->services[i].ips, cc->services[i].n_ips);
    }
    free(cc->services);
    memset(cc, 0, sizeof(*cc));
}

const cfg_cert_service_t *config_cert_service(const config_t *cfg, const char *name)
{
    for (size_t i = 0; cfg->certs.enabled && i < cfg->certs.n_services; i++) {
        if (strcmp(cfg->certs.services[i].name, name) == 0) {
            return &cfg->certs.services[i];
        }
    }
    return NULL;
}
