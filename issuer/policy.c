/* SPDX-License-Identifier: Apache-2.0 */
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mesh/limits.h>
#include <mesh/util.h>

typedef struct {
    const char *v[MESH_MAX_ALLOWED_SCOPES];
    size_t n;
} set_t;

static bool set_has(const set_t *s, const char *x, size_t len)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strlen(s->v[i]) == len && memcmp(s->v[i], x, len) == 0) {
            return true;
        }
    }
    return false;
}

static void set_add(set_t *s, const char *x)
{
    if (s->n < MESH_MAX_ALLOWED_SCOPES && !set_has(s, x, strlen(x))) {
        s->v[s->n++] = x;
    }
}

/* Appends "a b c" (sep between items) to buf; truncates with "..." rather than overflow. */
static void set_join(const set_t *s, const char *sep, char *buf, size_t cap)
{
    size_t used = strlen(buf);
    for (size_t i = 0; i < s->n; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? sep : "", s->v[i]);
        if (n < 0 || (size_t)n >= cap - used) {
            if (cap > 4) {
                memcpy(buf + cap - 4, "...", 4);
            }
            return;
        }
        used += (size_t)n;
    }
}

__attribute__((format(printf, 4, 5))) static bool deny(policy_result_t *res, const char *error,
                                                       int status, const char *fmt, ...)
{
    res->error = error;
    res->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->description, sizeof(res->description), fmt, ap);
    va_end(ap);
    return false;
}

/* true when `item` is one of the comma-separated names of `list` (a service token's
 * audiences; its scopes are a space-separated word list, <mesh/util.h>). */
static bool list_has(const char *list, const char *item)
{
    const char sep = ',';
    size_t n = strlen(item);
    const char *p = list;
    while (*p != '\0') {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, item, n) == 0) {
            return true;
        }
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    return false;
}

static bool allowed_svc(const config_t *cfg, const policy_request_t *req, const cfg_audience_t *au,
                        set_t *allowed, int64_t *max_ttl, policy_result_t *res)
{
    if (!list_has(req->svc_audiences, au->name)) {
        return deny(res, "access_denied", 403,
                    "%s may not get tokens for audience '%s': it was created for '%s'; create "
                    "a service token with --audience %s",
                    req->identity, au->name, req->svc_audiences, au->name);
    }
    for (size_t i = 0; i < au->n_scopes; i++) {
        if (req->svc_scopes[0] == '\0' || mesh_words_contains(req->svc_scopes, au->scopes[i])) {
            set_add(allowed, au->scopes[i]);
        }
    }
    *max_ttl = cfg->svc_ttl_max < cfg->ttl_max ? cfg->svc_ttl_max : cfg->ttl_max;
    return true;
}

static bool allowed_mtls(const config_t *cfg, const policy_request_t *req, const cfg_audience_t *au,
                         set_t *allowed, int64_t *max_ttl, policy_result_t *res)
{
    bool matched = false;
    *max_ttl = 0;
    for (size_t i = 0; i < cfg->n_policy; i++) {
        const cfg_policy_t *p = &cfg->policy[i];
        if (!config_identity_matches(p->identity, req->identity)) {
            continue;
        }
        bool has_aud = false;
        for (size_t j = 0; j < p->n_audiences; j++) {
            has_aud = has_aud || strcmp(p->audiences[j], au->name) == 0;
        }
        if (!has_aud) {
            continue;
        }
        matched = true;
        for (size_t k = 0; k < au->n_scopes; k++) {
            bool ok = p->all_scopes;
            for (size_t s = 0; s < p->n_scopes && !ok; s++) {
                ok = strcmp(p->scopes[s], au->scopes[k]) == 0;
            }
            if (ok) {
                set_add(allowed, au->scopes[k]);
            }
        }
        int64_t m = p->max_ttl ? p->max_ttl : cfg->ttl_max;
        if (m > *max_ttl) {
            *max_ttl = m;
        }
    }
    if (!matched) {
        set_t who = {.n = 0};
        for (size_t i = 0; i < cfg->n_policy; i++) {
            for (size_t j = 0; j < cfg->policy[i].n_audiences; j++) {
                if (strcmp(cfg->policy[i].audiences[j], au->name) == 0) {
                    set_add(&who, cfg->policy[i].identity);
                }
            }
        }
        char list[512] = "";
        set_join(&who, ", ", list, sizeof(list));
        return deny(res, "access_denied", 403,
                    "policy does not allow %s to get tokens for audience '%s'; allowed: %s",
                    req->identity, au->name, who.n ? list : "nobody (no policy entry names it)");
    }
    if (*max_ttl > cfg->ttl_max) {
        *max_ttl = cfg->ttl_max;
    }
    return true;
}

static bool grant_scopes(const policy_request_t *req, const cfg_audience_t *au,
                         const set_t *allowed, policy_result_t *res)
{
    char list[700] = "";
    set_join(allowed, " ", list, sizeof(list));
    set_t granted = {.n = 0};
    const char *cursor = req->scope;
    const char *p;
    size_t len;
    size_t count = 0;
    while (mesh_words_next(&cursor, &p, &len)) {
        /* RFC 6749 §3.3: scope-token = 1*NQCHAR */
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)p[i];
            if (ch < 0x21 || ch == 0x22 || ch == 0x5c || ch > 0x7e) {
                return deny(res, "invalid_scope", 400,
                            "scope contains a character RFC 6749 §3.3 does not allow; scopes "
                            "are space-separated words");
            }
        }
        if (++count > MESH_MAX_SCOPES) {
            return deny(res, "invalid_scope", 400, "more than %d scopes requested",
                        MESH_MAX_SCOPES);
        }
        if (!set_has(allowed, p, len)) {
            return deny(res, "invalid_scope", 400,
                        "scope '%.*s' is not allowed for %s at audience '%s'; allowed: %s",
                        (int)(len < 200 ? len : 200), p, req->identity, au->name,
                        allowed->n ? list : "(none)");
        }
        for (size_t i = 0; i < allowed->n; i++) {
            if (strlen(allowed->v[i]) == len && memcmp(allowed->v[i], p, len) == 0) {
                set_add(&granted, allowed->v[i]);
            }
        }
    }
    res->scope[0] = '\0';
    /* No scope asked for: the token carries everything this caller may have here. */
    set_join(granted.n ? &granted : allowed, " ", res->scope, sizeof(res->scope));
    return true;
}

bool policy_decide(const config_t *cfg, const policy_request_t *req, policy_result_t *res)
{
    memset(res, 0, sizeof(*res));
    const cfg_audience_t *au = config_audience(cfg, req->audience);
    if (au == NULL) {
        set_t names = {.n = 0};
        for (size_t i = 0; i < cfg->n_audiences; i++) {
            set_add(&names, cfg->audiences[i].name);
        }
        char list[700] = "";
        set_join(&names, ", ", list, sizeof(list));
        return deny(res, "invalid_target", 400,
                    "audience '%.200s' is not registered; registered audiences: %s", req->audience,
                    list);
    }
    set_t allowed = {.n = 0};
    int64_t max_ttl = 0;
    bool ok = req->svc_token ? allowed_svc(cfg, req, au, &allowed, &max_ttl, res)
                             : allowed_mtls(cfg, req, au, &allowed, &max_ttl, res);
    if (!ok || !grant_scopes(req, au, &allowed, res)) {
        return false;
    }
    if (req->has_ttl) {
        if (req->ttl < cfg->ttl_min || req->ttl > max_ttl) {
            return deny(res, "invalid_request", 400,
                        "ttl %lld is outside the %lld..%lld seconds allowed for %s; ask for a "
                        "ttl in that range or leave it out (default %lld)",
                        (long long)req->ttl, (long long)cfg->ttl_min, (long long)max_ttl,
                        req->identity,
                        (long long)(cfg->ttl_default < max_ttl ? cfg->ttl_default : max_ttl));
        }
        res->ttl = req->ttl;
    } else {
        res->ttl = cfg->ttl_default < max_ttl ? cfg->ttl_default : max_ttl;
    }
    return true;
}
