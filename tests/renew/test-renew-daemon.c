/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `mesh renew` as a process: once (JSON answer, exit codes), and --daemon keeping a 60-second
 * certificate renewed in place against the scripted issuer (this process), signalling this
 * process (--signal PID:USR2) and running --exec after each renewal; stopped by its PID.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mesh/mesh.h>

#include "fake_issuer.h"
#include "testutil.h"

static tu_env_t env;
static mesh_key_t *key;
static fake_t *fake;
static char mesh_bin[1024], ca[512], inter[512], inter_key[512], cert[600], keyp[600];
static volatile sig_atomic_t usr2;
static pid_t daemon_pid;

static void on_usr2(int sig)
{
    (void)sig;
    usr2++;
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(mesh_file_read(from, MESH_MAX_PEM_BYTES, &data, &len), MESH_OK);
    assert_int_equal(mesh_file_write_atomic(to, data, len, mode, true), MESH_OK);
    mesh_free(data);
}

static int group_setup(void **state)
{
    const char *build = getenv("MESH_BUILD_ROOT");
    char from[512];
    (void)state;

    assert_non_null(build);
    snprintf(mesh_bin, sizeof(mesh_bin), "%s/libmesh/cli/mesh", build);
    tu_env_init(&env);
    key = tu_rsa_key();
    fake = fake_start(env.certs, key, 0);
    tu_path(&env, "ca.pem", ca, sizeof(ca));
    tu_path(&env, "intermediate.pem", inter, sizeof(inter));
    tu_path(&env, "intermediate.key", inter_key, sizeof(inter_key));
    fake_set_cert_ca(fake, inter, inter_key, 60);
    snprintf(cert, sizeof(cert), "%s/cert.pem", env.dir);
    snprintf(keyp, sizeof(keyp), "%s/key.pem", env.dir);
    copy_file(tu_path(&env, "svc-a/cert.pem", from, sizeof(from)), cert, 0644);
    copy_file(tu_path(&env, "svc-a/key.pem", from, sizeof(from)), keyp, 0600);
    signal(SIGUSR2, on_usr2);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (daemon_pid > 0) { /* a failed test left it running: stopped by its PID */
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, NULL, 0);
    }
    fake_stop(fake);
    mesh_key_free(key);
    tu_env_cleanup(&env);
    return 0;
}

/* Starts `mesh renew ARGS...` with stdout to `out`; returns its PID. */
static pid_t spawn(const char *out, const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    pid_t pid;

    argv[n++] = mesh_bin;
    argv[n++] = "renew";
    argv[n++] = "--issuer";
    argv[n++] = fake_url(fake);
    argv[n++] = "--cert";
    argv[n++] = cert;
    argv[n++] = "--key";
    argv[n++] = keyp;
    argv[n++] = "--ca";
    argv[n++] = ca;
    for (size_t i = 0; args[i] != NULL && n < 31; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        execv(mesh_bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static int count_lines(const char *path, const char *needle)
{
    char *d = NULL;
    int n = 0;
    if (mesh_file_read(path, 1 << 20, &d, NULL) != MESH_OK) {
        return 0;
    }
    for (char *p = d; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    mesh_free(d);
    return n;
}

static void test_renew_once_json_and_exit_codes(void **state)
{
    char out[600];
    (void)state;

    snprintf(out, sizeof(out), "%s/once.json", env.dir);
    const char *json[] = {"--json", NULL};
    assert_int_equal(wait_exit(spawn(out, json)), 0);
    assert_int_equal(count_lines(out, "\"event\":\"renewed\""), 1);
    assert_int_equal(count_lines(out, "\"spiffe_id\":\"spiffe://mesh.local/svc-a\""), 1);
    assert_int_equal(mesh_certfile_check_key(cert, keyp), MESH_OK);
    /* The issuer's refusal: exit 1 with its reason. */
    fake_push_cert_reply(fake, 403,
                         "{\"error\":\"access_denied\",\"error_description\":"
                         "\"certificate revoked\"}");
    assert_int_equal(wait_exit(spawn(out, json)), 1);
    assert_int_equal(count_lines(out, "certificate revoked"), 1);
    /* A bad option value: exit 2. */
    const char *bad[] = {"--signal", "1:NOPE", NULL};
    assert_int_equal(wait_exit(spawn(out, bad)), 2);
}

static void test_daemon_renews_a_60s_certificate_and_signals(void **state)
{
    char out[600], marker[600], exec[800], *first = NULL, *now = NULL, sig[64];
    (void)state;

    snprintf(out, sizeof(out), "%s/daemon.json", env.dir);
    snprintf(marker, sizeof(marker), "%s/exec.log", env.dir);
    snprintf(exec, sizeof(exec), "echo reloaded >> '%s'", marker);
    snprintf(sig, sizeof(sig), "%d:USR2", (int)getpid());
    /* A 60 s certificate in place first, so the daemon starts from one. */
    const char *json[] = {"--json", NULL};
    assert_int_equal(wait_exit(spawn(out, json)), 0);
    assert_int_equal(mesh_file_read(cert, MESH_MAX_PEM_BYTES, &first, NULL), MESH_OK);
    usr2 = 0;
    /* --fraction 0.1: renewals about every 6 s (3..9 s), not 40 s, to keep the test short. */
    const char *args[] = {"--daemon", "--json", "--fraction", "0.1", "--signal",
                          sig,        "--exec", exec,         NULL};
    daemon_pid = spawn(out, args);
    for (int i = 0; i < 600 && usr2 < 2; i++) { /* bounded: 60 s */
        tu_sleep_ms(100);
    }
    assert_true(usr2 >= 2);
    assert_int_equal(kill(daemon_pid, SIGTERM), 0);
    assert_int_equal(wait_exit(daemon_pid), 0); /* stopped by a signal: 0 */
    daemon_pid = 0;
    assert_true(count_lines(out, "\"event\":\"renewed\"") >= 2);
    assert_true(count_lines(marker, "reloaded") >= 2);
    assert_int_equal(mesh_file_read(cert, MESH_MAX_PEM_BYTES, &now, NULL), MESH_OK);
    assert_string_not_equal(first, now);
    assert_int_equal(mesh_certfile_check_key(cert, keyp), MESH_OK);
    assert_int_equal(mesh_certfile_check_chain(cert, ca), MESH_OK);
    mesh_free(first);
    mesh_free(now);
}

static void test_daemon_gives_up_when_refused(void **state)
{
    char out[600];
    (void)state;

    snprintf(out, sizeof(out), "%s/refused.json", env.dir);
    fake_push_cert_reply(fake, 403,
                         "{\"error\":\"access_denied\",\"error_description\":"
                         "\"certificate revoked\"}");
    const char *args[] = {"--daemon", "--json", "--fraction", "0.01", NULL};
    daemon_pid = spawn(out, args);
    assert_int_equal(wait_exit(daemon_pid), 1); /* gave up: exit 1 */
    daemon_pid = 0;
    assert_int_equal(count_lines(out, "\"final\":true"), 1);
}

/* `mesh doctor` with short-lived certificates: exit 0 before the renewal point, 3 (a warning)
 * past it, 1 once expired. */
static int doctor(const char *out)
{
    const char *argv[] = {mesh_bin,       "doctor", "--json", "--issuer",
                          fake_url(fake), "--cert", cert,     "--key",
                          keyp,           "--ca",   ca,       NULL};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        execv(mesh_bin, (char *const *)argv);
        _exit(127);
    }
    return wait_exit(pid);
}

static void test_doctor_understands_short_lived_certificates(void **state)
{
    char out[600];
    const char *json[] = {"--json", NULL};
    (void)state;

    snprintf(out, sizeof(out), "%s/doctor.json", env.dir);
    fake_set_cert_ca(fake, inter, inter_key, 600);
    assert_int_equal(wait_exit(spawn(out, json)), 0);
    assert_int_equal(doctor(out), 0); /* a fresh 10-minute certificate: healthy */
    assert_int_equal(count_lines(out, "past its renewal point"), 0);
    /* Valid for another 100 s but 500 s into its 600: past the renewal point (at most 430 s). */
    fake_set_cert_backdate(fake, 500);
    assert_int_equal(wait_exit(spawn(out, json)), 0);
    assert_int_equal(doctor(out), 3);
    assert_int_equal(count_lines(out, "past its renewal point"), 1);
    assert_int_equal(count_lines(out, "\"status\": \"warn\""), 1);
    fake_set_cert_backdate(fake, 0);
    fake_set_cert_ca(fake, inter, inter_key, 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renew_once_json_and_exit_codes),
        cmocka_unit_test(test_daemon_renews_a_60s_certificate_and_signals),
        cmocka_unit_test(test_daemon_gives_up_when_refused),
        cmocka_unit_test(test_doctor_understands_short_lived_certificates),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
