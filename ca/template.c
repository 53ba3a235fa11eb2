/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mesh templates (docs/TEMPLATES.md). A template is strict JSON: duplicate members, unknown
 * members and wrong types are errors that name the file and the key path, e.g.
 * "mesh.json: services[3].sans[1]: ...". Validation is complete before anything is written.
 */
#include <stdlib.h>
#include <string.h>

#include <mesh/jansson.h>
#include <mesh/limits.h>

#include "ca.h"

const char ca_template_help[] =
    "A mesh template is a JSON object (docs/TEMPLATES.md has the full reference):\n"
    "\n"
    "  {\n"
    "    \"comment\": \"any object may carry a comment string\",\n"
    "    \"trust_domain\": \"mesh.local\",           SPIFFE trust domain (a DNS name)\n"
    "    \"development\": true,                    true (default): every leaf also gets\n"
    "                                            DNS:localhost and IP:127.0.0.1;\n"
    "                                            false: only the names listed here\n"
    "    \"keys\": {                               key type per role:\n"
    "      \"ca\": \"p256\",                          root + intermediate\n"
    "      \"leaf\": \"p256\",                        service keys (default for services)\n"
    "      \"jwt\": \"rsa2048\"                       the issuer's JWT signing key\n"
    "    },                                        types: p256 rsa2048 rsa3072 ed25519\n"
    "    \"lifetimes\": {\"root_days\": 3650, \"intermediate_days\": 1825, \"leaf_days\": 90},\n"
    "    \"name_constraints\": {\"dns\": [\"mesh.local\", \"localhost\"]},\n"
    "                                              used by init --name-constraints; default:\n"
    "                                              every DNS name the services use\n"
    "    \"services\": [\n"
    "      {\"name\": \"gateway\",                    a DNS label: [a-z0-9-], 1-63 chars\n"
    "       \"sans\": [\"gw.example.test\", \"10.0.0.5\"],  extra DNS names / IP addresses\n"
    "       \"days\": 30,                            lifetime override\n"
    "       \"key\": \"rsa2048\"}                      key type override\n"
    "    ]\n"
    "  }\n"
    "\n"
    "Every service also gets DNS:<name> and the URI SAN spiffe://<trust_domain>/<name>;\n"
    "with \"development\": true also DNS:localhost and IP:127.0.0.1, so on one machine any\n"
    "service can answer as any other: set it to false for a mesh that spans hosts.\n"
    "Errors name the file and the key path, e.g.\n"
    "  mesh.json: services[3].sans[1]: \"a_b\" is neither a DNS name nor an IP address\n";

static mesh_err_t bad(const struct ca_template *t, const char *where, const char *what)
{
    return mesh_err_set(MESH_ERR_CONFIG, "%s: %s: %s", t->path, where, what);
}

/* Only the listed members (plus "comment") may appear in `obj`. */
static mesh_err_t check_members(const struct ca_template *t, json_t *obj, const char *where,
                                const char *const *allowed, size_t nallowed)
{
    const char *key;
    json_t *v;
    char msg[512];

    json_object_foreach(obj, key, v)
    {
        bool ok = strcmp(key, "comment") == 0;
        for (size_t i = 0; i < nallowed && !ok; i++) {
            ok = strcmp(key, allowed[i]) == 0;
        }
        if (!ok) {
            (void)snprintf(msg, sizeof(msg), "unknown member \"%s\" (allowed: comment", key);
            for (size_t i = 0; i < nallowed; i++) {
                size_t used = strlen(msg);
                (void)snprintf(msg + used, sizeof(msg) - used, ", %s", allowed[i]);
            }
            size_t used = strlen(msg);
            (void)snprintf(msg + used, sizeof(msg) - used, ")");
            return bad(t, where, msg);
        }
    }
    return MESH_OK;
}

static mesh_err_t get_days(const struct ca_template *t, json_t *obj, const char *member,
                           const char *where, int *out)
{
    json_t *v = json_object_get(obj, member);
    char path[256];

    if (v == NULL) {
        return MESH_OK;
    }
    (void)snprintf(path, sizeof(path), "%s%s", where, member);
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > MESH_MAX_CERT_DAYS) {
        return bad(t, path, "must be a whole number of days from 1 to 36500");
    }
    *out = (int)json_integer_value(v);
    return MESH_OK;
}

static mesh_err_t get_keytype(const struct ca_template *t, json_t *obj, const char *member,
                              const char *where, mesh_key_type_t *out)
{
    json_t *v = json_object_get(obj, member);
    char path[256], msg[300];

    if (v == NULL) {
        return MESH_OK;
    }
    (void)snprintf(path, sizeof(path), "%s%s", where, member);
    if (!json_is_string(v) || !mesh_key_type_from_name(json_string_value(v), out)) {
        (void)snprintf(msg, sizeof(msg),
                       "unsupported key type %s%s%s; use p256, rsa2048, "
                       "rsa3072 or ed25519",
                       json_is_string(v) ? "\"" : "",
                       json_is_string(v) ? json_string_value(v) : "(not a string)",
                       json_is_string(v) ? "\"" : "");
        return bad(t, path, msg);
    }
    return MESH_OK;
}

/* sans: DNS names go to dns, IP literals to ips. */
static mesh_err_t parse_sans(const struct ca_template *t, json_t *arr, const char *where,
                             struct ca_service *s)
{
    char path[256], msg[512];
    size_t i;
    json_t *v;
    mesh_err_t rc;

    if (!json_is_array(arr)) {
        return bad(t, where, "must be an array of DNS names and IP addresses");
    }
    if (json_array_size(arr) > MESH_MAX_CERT_SANS) {
        return bad(t, where, "too many entries (at most 64)");
    }
    json_array_foreach(arr, i, v)
    {
        (void)snprintf(path, sizeof(path), "%s[%zu]", where, i);
        if (!json_is_string(v)) {
            return bad(t, path, "must be a string (a DNS name or an IP address)");
        }
        const char *san = json_string_value(v);
        if (ca_is_ip(san)) {
            rc = ca_strv_add(&s->ips, san);
        } else if (ca_valid_dns(san, true)) {
            rc = ca_strv_add(&s->dns, san);
        } else {
            (void)snprintf(msg, sizeof(msg),
                           "\"%.200s\" is neither a DNS name nor an IP "
                           "address; use lowercase letters, digits, hyphens and dots",
                           san);
            return bad(t, path, msg);
        }
        if (rc != MESH_OK) {
            return rc;
        }
    }
    return MESH_OK;
}

static mesh_err_t parse_service(struct ca_template *t, json_t *obj, size_t idx,
                                struct ca_service *s)
{
    static const char *const allowed[] = {"name", "sans", "days", "key"};
    char where[64], path[96], msg[300];
    json_t *name, *sans;
    mesh_err_t rc;

    (void)snprintf(where, sizeof(where), "services[%zu]", idx);
    if (!json_is_object(obj)) {
        return bad(t, where, "must be an object with at least \"name\"");
    }
    rc = check_members(t, obj, where, allowed, CA_ARRAY_LEN(allowed));
    if (rc != MESH_OK) {
        return rc;
    }
    name = json_object_get(obj, "name");
    (void)snprintf(path, sizeof(path), "%s.name", where);
    if (!json_is_string(name)) {
        return bad(t, path, "missing or not a string; every service needs a name");
    }
    if (!ca_valid_label(json_string_value(name))) {
        (void)snprintf(msg, sizeof(msg),
                       "\"%.64s\" is not a valid DNS label; use 1-63 "
                       "lowercase letters, digits or hyphens, no hyphen at either end",
                       json_string_value(name));
        return bad(t, path, msg);
    }
    if (ca_template_find(t, json_string_value(name)) != NULL) {
        return bad(t, path, "duplicate service name; each service appears once");
    }
    s->name = strdup(json_string_value(name));
    if (s->name == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    s->key = t->leaf_key;
    (void)snprintf(path, sizeof(path), "%s.", where);
    if ((rc = get_days(t, obj, "days", path, &s->days)) != MESH_OK ||
        (rc = get_keytype(t, obj, "key", path, &s->key)) != MESH_OK) {
        return rc;
    }
    sans = json_object_get(obj, "sans");
    if (sans != NULL) {
        (void)snprintf(path, sizeof(path), "%s.sans", where);
        return parse_sans(t, sans, path, s);
    }
    return MESH_OK;
}

static mesh_err_t parse_services(struct ca_template *t, json_t *arr)
{
    size_t i;
    json_t *v;
    mesh_err_t rc;

    if (arr == NULL) {
        return MESH_OK; /* a mesh without services still gets its CA and JWT key */
    }
    if (!json_is_array(arr)) {
        return bad(t, "services", "must be an array of service objects");
    }
    if (json_array_size(arr) > MESH_MAX_CA_SERVICES) {
        return bad(t, "services", "too many services (at most 4096)");
    }
    t->svcs = calloc(json_array_size(arr) + 1, sizeof(*t->svcs));
    if (t->svcs == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    json_array_foreach(arr, i, v)
    {
        rc = parse_service(t, v, i, &t->svcs[i]);
        t->nsvcs = i + 1; /* counted even on failure, so free releases it */
        if (rc != MESH_OK) {
            return rc;
        }
    }
    return MESH_OK;
}

static mesh_err_t parse_nc(struct ca_template *t, json_t *obj)
{
    static const char *const allowed[] = {"dns"};
    json_t *arr, *v;
    size_t i;
    char path[64];
    mesh_err_t rc;

    if (obj == NULL) {
        return MESH_OK;
    }
    if (!json_is_object(obj)) {
        return bad(t, "name_constraints", "must be an object like {\"dns\": [...]}");
    }
    if ((rc = check_members(t, obj, "name_constraints", allowed, 1)) != MESH_OK) {
        return rc;
    }
    arr = json_object_get(obj, "dns");
    if (arr != NULL && !json_is_array(arr)) {
        return bad(t, "name_constraints.dns", "must be an array of DNS names");
    }
    json_array_foreach(arr, i, v)
    {
        (void)snprintf(path, sizeof(path), "name_constraints.dns[%zu]", i);
        if (!json_is_string(v) || !ca_valid_dns(json_string_value(v), false)) {
            return bad(t, path, "must be a lowercase DNS name such as \"mesh.local\"");
        }
        if ((rc = ca_strv_add(&t->nc_dns, json_string_value(v))) != MESH_OK) {
            return rc;
        }
    }
    return MESH_OK;
}

static mesh_err_t parse_top(struct ca_template *t, json_t *root)
{
    static const char *const top[] = {
        "trust_domain", "development", "keys", "lifetimes", "name_constraints", "services",
    };
    static const char *const keys[] = {"ca", "leaf", "jwt"};
    static const char *const life[] = {"root_days", "intermediate_days", "leaf_days"};
    json_t *td = json_object_get(root, "trust_domain"), *dev = json_object_get(root, "development");
    json_t *k = json_object_get(root, "keys"), *l = json_object_get(root, "lifetimes");
    mesh_err_t rc;

    if ((rc = check_members(t, root, "(top level)", top, CA_ARRAY_LEN(top))) != MESH_OK) {
        return rc;
    }
    if (td != NULL) {
        if (!json_is_string(td) || !ca_valid_dns(json_string_value(td), false)) {
            return bad(t, "trust_domain", "must be a lowercase DNS name such as \"mesh.local\"");
        }
        free(t->trust_domain);
        if ((t->trust_domain = strdup(json_string_value(td))) == NULL) {
            return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
        }
    }
    if (dev != NULL) {
        if (!json_is_boolean(dev)) {
            return bad(t, "development",
                       "must be true or false (true: leaves also get DNS:localhost and "
                       "IP:127.0.0.1; false: only the names the template lists)");
        }
        t->development = json_is_true(dev);
    }
    if (k != NULL &&
        (!json_is_object(k) || (rc = check_members(t, k, "keys", keys, 3)) != MESH_OK)) {
        return json_is_object(k) ? rc : bad(t, "keys", "must be an object");
    }
    if (l != NULL &&
        (!json_is_object(l) || (rc = check_members(t, l, "lifetimes", life, 3)) != MESH_OK)) {
        return json_is_object(l) ? rc : bad(t, "lifetimes", "must be an object");
    }
    if ((rc = get_keytype(t, k, "ca", "keys.", &t->ca_key)) != MESH_OK ||
        (rc = get_keytype(t, k, "leaf", "keys.", &t->leaf_key)) != MESH_OK ||
        (rc = get_keytype(t, k, "jwt", "keys.", &t->jwt_key)) != MESH_OK ||
        (rc = get_days(t, l, "root_days", "lifetimes.", &t->root_days)) != MESH_OK ||
        (rc = get_days(t, l, "intermediate_days", "lifetimes.", &t->intermediate_days)) !=
            MESH_OK ||
        (rc = get_days(t, l, "leaf_days", "lifetimes.", &t->leaf_days)) != MESH_OK) {
        return rc;
    }
    if (t->intermediate_days > t->root_days) {
        return bad(t, "lifetimes.intermediate_days", "must not exceed root_days");
    }
    if ((rc = parse_nc(t, json_object_get(root, "name_constraints"))) != MESH_OK) {
        return rc;
    }
    return parse_services(t, json_object_get(root, "services"));
}

mesh_err_t ca_template_defaults(struct ca_template *t)
{
    memset(t, 0, sizeof(*t));
    t->trust_domain = strdup("mesh.local");
    t->path = strdup("(built-in defaults)");
    if (t->trust_domain == NULL || t->path == NULL) {
        ca_template_free(t);
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    t->development = true; /* what every template meant before the member existed */
    t->ca_key = MESH_KEY_P256;
    t->leaf_key = MESH_KEY_P256;
    t->jwt_key = MESH_KEY_RSA2048;
    t->root_days = 3650;
    t->intermediate_days = 1825;
    t->leaf_days = 90;
    return MESH_OK;
}

/* Validates an already-parsed document; on failure *t is freed. */
static mesh_err_t template_from_json(const char *name, json_t *root, struct ca_template *t)
{
    mesh_err_t rc = ca_template_defaults(t);

    if (rc != MESH_OK) {
        return rc;
    }
    free(t->path);
    if ((t->path = strdup(name)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    } else if (!json_is_object(root)) {
        rc = mesh_err_set(MESH_ERR_CONFIG, "%s: the template must be a JSON object", name);
    } else {
        rc = parse_top(t, root);
    }
    if (rc != MESH_OK) {
        ca_template_free(t);
    }
    return rc;
}

mesh_err_t ca_template_load(const char *path, struct ca_template *t)
{
    json_t *root = NULL;
    mesh_err_t rc = ca_load_json(path, MESH_MAX_TEMPLATE_BYTES, &root);

    if (rc != MESH_OK) {
        memset(t, 0, sizeof(*t)); /* as after any failure: nothing held, safe to free */
        return MESH_ERR_CONFIG;   /* the detail already names the file and what is wrong */
    }
    rc = template_from_json(path, root, t);
    json_decref(root);
    return rc;
}

mesh_err_t ca_template_parse(const char *name, const char *buf, size_t len, struct ca_template *t)
{
    json_t *root = NULL;
    mesh_err_t rc;

    memset(t, 0, sizeof(*t)); /* as after any failure: nothing held, safe to free */
    if (len > MESH_MAX_TEMPLATE_BYTES) {
        return mesh_err_set(MESH_ERR_CONFIG, "%s: %zu bytes, over the %d-byte limit", name, len,
                            (int)MESH_MAX_TEMPLATE_BYTES);
    }
    /* libmesh's JSON door: duplicates refused, nesting bounded by MESH_MAX_JSON_DEPTH */
    if (mesh_json_parse_object(buf, len, MESH_MAX_JSON_DEPTH, name, &root) != MESH_OK) {
        return MESH_ERR_CONFIG; /* the detail names the template and what is wrong */
    }
    rc = template_from_json(name, root, t);
    json_decref(root);
    return rc;
}

void ca_template_free(struct ca_template *t)
{
    for (size_t i = 0; i < t->nsvcs; i++) {
        free(t->svcs[i].name);
        ca_strv_free(&t->svcs[i].dns);
        ca_strv_free(&t->svcs[i].ips);
    }
    free(t->svcs);
    ca_strv_free(&t->nc_dns);
    free(t->trust_domain);
    free(t->path);
    memset(t, 0, sizeof(*t));
}

const struct ca_service *ca_template_find(const struct ca_template *t, const char *name)
{
    for (size_t i = 0; i < t->nsvcs; i++) {
        if (t->svcs[i].name != NULL && strcmp(t->svcs[i].name, name) == 0) {
            return &t->svcs[i];
        }
    }
    return NULL;
}
