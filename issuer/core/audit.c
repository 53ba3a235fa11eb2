/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audit lines: one compact JSON object per line, so `jq` and log shippers read them. The
 * event struct has no field that can hold a token, secret or key; that is the guarantee.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/jansson.h>

#include <mesh/limits.h>

#include "audit.h"

/* Longest string field kept (MESH_MAX_AUDIT_FIELD): request values (audience, scope) are
 * attacker-chosen. */

static pthread_mutex_t audit_mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * A JSON string for v: NULL reads as "", longer values are cut at a UTF-8 character
 * boundary, and bytes that are not UTF-8 make the whole value "<invalid utf-8>" (jansson
 * refuses them and a log line must not be lost).
 */
static json_t *field(const char *v)
{
    size_t n = v ? strnlen(v, MESH_MAX_AUDIT_FIELD + 1) : 0;
    json_t *s;

    if (n > MESH_MAX_AUDIT_FIELD) {
        n = MESH_MAX_AUDIT_FIELD;
        while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80) {
            n--; /* v[n] continues a character: cut before that character starts */
        }
    }
    s = json_stringn(v ? v : "", n);
    return s ? s : json_string("<invalid utf-8>");
}

static json_t *build(const audit_event_t *ev)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    if (json_object_set_new(o, "time", json_integer(ev->time)) != 0 ||
        json_object_set_new(o, "outcome", field(ev->outcome)) != 0 ||
        json_object_set_new(o, "identity", field(ev->identity)) != 0 ||
        json_object_set_new(o, "auth_method", field(ev->auth_method)) != 0 ||
        json_object_set_new(o, "audience", field(ev->audience)) != 0 ||
        json_object_set_new(o, "scope", field(ev->scope)) != 0 ||
        json_object_set_new(o, "jti", field(ev->jti)) != 0 ||
        json_object_set_new(o, "lifetime", json_integer(ev->lifetime)) != 0 ||
        json_object_set_new(o, "reason", field(ev->reason)) != 0 ||
        json_object_set_new(o, "source", field(ev->source)) != 0 ||
        (ev->serial != NULL && json_object_set_new(o, "serial", field(ev->serial)) != 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void audit_log(FILE *f, const audit_event_t *ev)
{
    json_t *o = NULL;
    char *line = NULL;
    size_t len;

    if (ev == NULL) {
        return;
    }
    if (f == NULL) {
        f = stderr;
    }
    o = build(ev);
    /* JSON_COMPACT never emits a newline inside the value, so one event is one line. */
    line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (line == NULL) {
        goto out;
    }
    len = strlen(line);
    pthread_mutex_lock(&audit_mu);
    /* One fwrite of the line and its newline, flushed, so lines never interleave. */
    line[len] = '\n';
    (void)fwrite(line, 1, len + 1, f);
    (void)fflush(f);
    line[len] = '\0';
    pthread_mutex_unlock(&audit_mu);
out:
    free(line);
    json_decref(o);
}
