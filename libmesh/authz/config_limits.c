/* SPDX-License-Identifier: Apache-2.0 */
/* A route's "rate_limit" ({"per_route": "1000/h", "per_subject": {...}}) and "single_use". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "cfg_json.h"
#include "config.h"

/* "N/unit" or "N/Kunit" (unit s, m, h or d): e.g. "1000/h", "50/m", "5/10s". */
static bool parse_quota(const char *s, quota_t *q)
{
    char *end = NULL;
    if (s[0] < '1' || s[0] > '9') {
        return false;
    }
    long long n = strtoll(s, &end, 10);
    if (*end != '/' || n < 1 || n > MESH_AUTHZ_MAX_QUOTA) {
        return false;
    }
    const char *u = end + 1;
    long long k = 1;
    if (*u >= '1' && *u <= '9') {
        k = strtoll(u, &end, 10);
        u = end;
        if (k < 1 || k > 1000) {
            return false;
        }
    }
    if (u[0] == '\0' || u[1] != '\0') {
        return false;
    }
    long long unit = u[0] == 's'   ? 1
                     : u[0] == 'm' ? 60
                     : u[0] == 'h' ? 3600
                     : u[0] == 'd' ? 86400
                                   : 0;
    if (unit == 0) {
        return false;
    }
    q->n = n;
    q->period_s = k * unit;
    return true;
}

static bool quota_member(cfg_t *c, const json_t *v, const char *p, quota_t *q)
{
    if (!json_is_string(v) || !parse_quota(json_string_value(v), q)) {
        return cfg_fail(c, p,
                        "must be \"N/period\": N 1..%d requests per s, m, h or d, optionally "
                        "with a count (\"1000/h\", \"50/m\", \"5/10s\")",
                        MESH_AUTHZ_MAX_QUOTA);
    }
    return true;
}

bool config_parse_limits(cfg_t *c, route_t *r, const json_t *o, const char *path)
{
    if (!cfg_bool(c, o, path, "single_use", false, &r->single_use)) {
        return false;
    }
    json_t *rl;
    if (!cfg_object(c, o, path, "rate_limit", false, &rl) || rl == NULL) {
        return rl == NULL;
    }
    char p[CFG_PATH], q[CFG_PATH];
    cfg_join(p, sizeof(p), path, "rate_limit");
    static const char *const known[] = {"per_route", "per_subject", NULL};
    if (!cfg_known(c, rl, p, known)) {
        return false;
    }
    json_t *pr = json_object_get(rl, "per_route");
    cfg_join(q, sizeof(q), p, "per_route");
    if (pr != NULL && !quota_member(c, pr, q, &r->per_route)) {
        return false;
    }
    json_t *ps;
    if (!cfg_object(c, rl, p, "per_subject", false, &ps)) {
        return false;
    }
    if (pr == NULL && (ps == NULL || json_object_size(ps) == 0)) {
        return cfg_fail(c, p, "names no quota: give \"per_route\" or \"per_subject\"");
    }
    if (ps == NULL) {
        return true;
    }
    size_t n = json_object_size(ps);
    cfg_join(q, sizeof(q), p, "per_subject");
    if (n > MESH_AUTHZ_MAX_LIST) {
        return cfg_fail(c, q, "at most %d subjects (MESH_AUTHZ_MAX_LIST)", MESH_AUTHZ_MAX_LIST);
    }
    r->per_subject = calloc(n, sizeof(quota_t));
    r->quota_subjects = calloc(n, sizeof(char *));
    if (r->per_subject == NULL || r->quota_subjects == NULL) {
        return cfg_fail(c, q, "out of memory");
    }
    /* exact subjects first, "*" (every other subject, each its own count) last */
    for (int pass = 0; pass < 2; pass++) {
        const char *sub;
        json_t *v;
        json_object_foreach(ps, sub, v)
        {
            bool star = strcmp(sub, "*") == 0;
            if (star != (pass == 1)) {
                continue;
            }
            char e[CFG_PATH];
            cfg_join(e, sizeof(e), q, sub);
            if (strlen(sub) == 0 || strlen(sub) > MESH_MAX_CLAIM_STRING) {
                return cfg_fail(c, e, "a subject is 1..%d bytes", MESH_MAX_CLAIM_STRING);
            }
            size_t i = r->n_per_subject;
            if (!quota_member(c, v, e, &r->per_subject[i]) ||
                (r->quota_subjects[i] = strdup(sub)) == NULL) {
                return c->msg[0] != '\0' ? false : cfg_fail(c, e, "out of memory");
            }
            r->n_per_subject++;
        }
    }
    return true;
}
