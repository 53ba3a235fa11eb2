/* SPDX-License-Identifier: Apache-2.0 */
/* `mesh token`, `mesh curl` and `mesh doctor` driven as a user would, against the
 * in-process issuer; doctor's first failure for each classic misconfiguration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <mesh/mesh.h>

#include "fake_issuer.h"
#include "testutil.h"

static tu_env_t env;
static mesh_key_t *key;
static fake_t *fake;
static char mesh_bin[512];
static char out[65536], err[65536];

static int group_setup(void **state)
{
    const char *b = getenv("MESH_BUILD_ROOT");
    (void)state;
    snprintf(mesh_bin, sizeof(mesh_bin), "%s/libmesh/cli/mesh", b != NULL ? b : "build");
    tu_env_init(&env);
    key = tu_rsa_key();
    fake = fake_start(env.certs, key, 0);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fake_stop(fake);
    mesh_key_free(key);
    tu_env_cleanup(&env);
    return 0;
}

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f != NULL ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f != NULL) {
        fclose(f);
    }
}

/* Runs `mesh ARGS` with the service environment ENV (shell assignments); exit status. */
static int run(const char *envs, const char *args)
{
    char cmd[4096], errpath[512], outpath[512];
    int st;

    snprintf(outpath, sizeof(outpath), "%s/out.txt", env.dir);
    snprintf(errpath, sizeof(errpath), "%s/err.txt", env.dir);
    snprintf(cmd, sizeof(cmd),
             "env -u TLS_CERT_PATH -u TLS_KEY_PATH -u TLS_CA_PATH -u MESH_CLIENT_ID "
             "-u MESH_CLIENT_SECRET MESH_ISSUER_URL=%s MESH_CERTS_DIR=%s MESH_SERVICE=svc-a %s "
             "%s %s >%s 2>%s",
             fake_url(fake), env.certs, envs, mesh_bin, args, outpath, errpath);
    st = system(cmd);
    slurp(outpath, out, sizeof(out));
    slurp(errpath, err, sizeof(err));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_token_prints_raw_jwt(void **state)
{
    (void)state;
    assert_int_equal(run("", "token --audience svc-b --scope read"), 0);
    assert_memory_equal(out, "eyJ", 3);
    assert_null(strchr(out, ' '));
    assert_int_equal(run("", "token --audience nope"), 1);
    assert_non_null(strstr(err, "invalid_target"));
    assert_int_equal(run("MESH_CLIENT_SECRET=s3cret", "token --audience svc-b --client-id ci"), 0);
    assert_memory_equal(out, "eyJ", 3);
    assert_int_equal(run("", "token"), 2);
    assert_int_equal(run("", "token --help"), 0);
}

static void test_curl_calls_peer_with_token_and_cert(void **state)
{
    char args[1200], file[512];
    (void)state;

    snprintf(args, sizeof(args), "curl %s/peer --audience svc-b", fake_url(fake));
    assert_int_equal(run("", args), 0);
    assert_non_null(strstr(out, "\"authorization\":\"Bearer eyJ"));
    assert_non_null(strstr(out, env.a_x5t));
    snprintf(args, sizeof(args), "curl -i -H 'X-Test: 1' %s/peer --audience svc-b", fake_url(fake));
    assert_int_equal(run("", args), 0);
    assert_memory_equal(out, "HTTP/", 5);
    snprintf(file, sizeof(file), "%s/body.json", env.dir);
    snprintf(args, sizeof(args), "curl -o %s %s/peer --audience svc-b", file, fake_url(fake));
    assert_int_equal(run("", args), 0);
    slurp(file, out, sizeof(out));
    assert_non_null(strstr(out, "Bearer"));
    snprintf(args, sizeof(args), "curl %s/missing --audience svc-b", fake_url(fake));
    assert_int_equal(run("", args), 1);
    assert_non_null(strstr(err, "HTTP 404"));
}

static void test_doctor_all_pass(void **state)
{
    (void)state;
    assert_int_equal(run("", "doctor --audience svc-b"), 0);
    assert_non_null(strstr(out, "all 13 checks passed"));
    assert_non_null(strstr(out, "spiffe://mesh.local/svc-a"));
    assert_int_equal(run("", "doctor"), 0);
    assert_non_null(strstr(out, "skipped"));
    assert_int_equal(run("", "doctor --json --audience svc-b"), 0);
    assert_non_null(strstr(out, "\"ok\": true"));
    assert_non_null(strstr(out, "\"check\": \"token verifies\""));
    assert_int_equal(run("", "doctor --json --audience nope"), 1);
    assert_non_null(strstr(out, "\"status\": \"fail\""));
    assert_non_null(strstr(out, "\"fix\""));
}

/* The first cross is on `step`, and the output says what to change. */
static void expect_first_failure(const char *envs, const char *args, const char *step,
                                 const char *why)
{
    char mark[128];

    assert_int_equal(run(envs, args), 1);
    snprintf(mark, sizeof(mark), "\u2717  %s", step);
    if (strstr(out, mark) == NULL || (why != NULL && strstr(out, why) == NULL) ||
        strstr(out, "fix:") == NULL) {
        fail_msg("want first failure at '%s' (%s), got:\n%s", step, why ? why : "", out);
    }
}

static void test_doctor_first_failures(void **state)
{
    char e[1024];
    (void)state;

    snprintf(e, sizeof(e), "TLS_CA_PATH=%s/other-ca/ca.pem", env.certs);
    expect_first_failure(e, "doctor", "chains to CA", "does not chain");
    snprintf(e, sizeof(e), "TLS_CERT_PATH=%s/expired/cert.pem TLS_KEY_PATH=%s/expired/key.pem",
             env.certs, env.certs);
    expect_first_failure(e, "doctor", "not expired", "expired");
    snprintf(e, sizeof(e), "TLS_KEY_PATH=%s/svc-b/key.pem", env.certs);
    expect_first_failure(e, "doctor", "key matches certificate", "is not the key");
    expect_first_failure("MESH_ISSUER_URL=https://127.0.0.1:1", "doctor", "issuer reachable",
                         "start mesh-issuer");
    snprintf(e, sizeof(e),
             "TLS_CERT_PATH=%s/other-ca/stranger/cert.pem "
             "TLS_KEY_PATH=%s/other-ca/stranger/key.pem TLS_CA_PATH=%s/other-ca/ca.pem",
             env.certs, env.certs, env.certs);
    expect_first_failure(e, "doctor", "TLS handshake", "certificate");
    expect_first_failure("", "doctor --audience nope", "token request", "invalid_target");
    expect_first_failure("", "doctor --audience forbidden", "token request", "access_denied");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_prints_raw_jwt),
        cmocka_unit_test(test_curl_calls_peer_with_token_and_cert),
        cmocka_unit_test(test_doctor_all_pass),
        cmocka_unit_test(test_doctor_first_failures),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
