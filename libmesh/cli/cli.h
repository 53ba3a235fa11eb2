/* SPDX-License-Identifier: Apache-2.0 */
/* The `mesh` tool: one file per verb, each a `int cmd_<verb>(int argc, char **argv)`. */
#ifndef MESH_CLI_H
#define MESH_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <mesh/error.h>
#include <mesh/limits.h>

/* Exit statuses shared by every verb (documented in mesh(1)). */
#define CLI_OK    0
#define CLI_FAIL  1 /* the check or operation failed (token rejected, peer refused, ...) */
#define CLI_USAGE 2 /* bad command line or unreadable input */

/* Most bytes a verb reads from stdin: well past MESH_MAX_TOKEN_BYTES, still bounded. */
#define CLI_MAX_STDIN (8 * MESH_MAX_TOKEN_BYTES)

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_verb_t;

int cmd_jwks(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_curl(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_renew(int argc, char **argv);

/* Prints "mesh VERB: <what>" on stderr and returns CLI_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "mesh VERB: <reason_code>: <detail>" on stderr for a libmesh error; returns `status`. */
int cli_mesh_error(const char *verb, mesh_err_t err, int status);

/* true when argv[i] is "--help" or "-h". */
bool cli_wants_help(int argc, char **argv);

/* Reads a whole file ("-" = stdin) of at most max bytes; the detail names the path. */
mesh_err_t cli_read_input(const char *path, size_t max, char **out, size_t *len);

/* The TOKEN argument: the string itself, or stdin for "-" (trailing newline dropped). */
mesh_err_t cli_read_token(const char *arg, char **out, size_t *len);

/* Parses a decimal integer option value; false (and a usage message) when not a number. */
bool cli_parse_int64(const char *verb, const char *opt, const char *val, long long *out);

#endif /* MESH_CLI_H */
