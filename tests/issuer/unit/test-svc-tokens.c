/* SPDX-License-Identifier: Apache-2.0 */
/* Service tokens: create, check, rotate with grace, revoke, expiry; `now` is injected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"
#include "svc_tokens.h"
#include "testdir.h"

#define T0  1700000000
#define DAY 86400

struct fixture {
    const char *dir;
    store_t *s;
    char id[64];
    char secret[MESH_MAX_CLIENT_SECRET];
};

static int setup(void **state)
{
    static struct fixture fx;
    char url[4200];

    memset(&fx, 0, sizeof(fx));
    fx.dir = testdir_new();
    testdir_url(url, sizeof(url), fx.dir, "issuer.db");
    assert_int_equal(store_open(url, &fx.s), MESH_OK);
    assert_int_equal(svc_token_create(fx.s, "ci-deploy", "orders,billing", "read", 30 * DAY, T0,
                                      fx.id, fx.secret),
                     MESH_OK);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    store_close(fx->s);
    testdir_remove(fx->dir);
    return 0;
}

static mesh_err_t check(struct fixture *fx, const char *id, const char *secret, int64_t now,
                        const char **why)
{
    svc_token_rec_t rec;

    return svc_token_check(fx->s, id, secret, now, &rec, why);
}

static bool b64url_only(const char *s)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           strlen(s);
}

static bool contains(const void *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp((const char *)hay + i, needle, m) == 0) {
            return true;
        }
    }
    return false;
}

static void test_create_formats(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(strncmp(fx->id, "msi_", 4), 0);
    assert_int_equal(strlen(fx->id), 4 + 22); /* 16 bytes */
    assert_true(b64url_only(fx->id + 4));
    assert_int_equal(strncmp(fx->secret, "mss_", 4), 0);
    assert_int_equal(strlen(fx->secret), 4 + 43); /* 32 bytes = 256 bits */
    assert_true(b64url_only(fx->secret + 4));
}

/* The database holds a salted hash, never the secret or its base64url body. */
static void test_secret_not_stored(void **state)
{
    struct fixture *fx = *state;
    svc_token_rec_t rec;

    assert_int_equal(store_svc_get_by_name(fx->s, "ci-deploy", &rec), MESH_OK);
    assert_false(contains(&rec, sizeof(rec), fx->secret + 4, 16));
    assert_string_equal(rec.client_id, fx->id);
    assert_string_equal(rec.audiences, "orders,billing");
    assert_int_equal(rec.expires, T0 + 30 * DAY);
}

static void test_check_ok(void **state)
{
    struct fixture *fx = *state;
    svc_token_rec_t rec;
    const char *why = NULL;

    assert_int_equal(svc_token_check(fx->s, fx->id, fx->secret, T0 + 10, &rec, &why), MESH_OK);
    assert_string_equal(why, "ok");
    assert_string_equal(rec.name, "ci-deploy");
    assert_string_equal(rec.scopes, "read");
    assert_int_equal(store_svc_get_by_name(fx->s, "ci-deploy", &rec), MESH_OK);
    assert_int_equal(rec.last_used, T0 + 10);
}

/* No oracle: an unknown id and a wrong secret look the same to the caller. */
static void test_unknown_id_same_as_wrong_secret(void **state)
{
    struct fixture *fx = *state;
    char detail_unknown[512], wrong[MESH_MAX_CLIENT_SECRET];
    const char *why = NULL;
    mesh_err_t rc_unknown, rc_wrong;

    rc_unknown = check(fx, "msi_AAAAAAAAAAAAAAAAAAAAAA", fx->secret, T0, &why);
    assert_string_equal(why, "unknown_client");
    snprintf(detail_unknown, sizeof(detail_unknown), "%s", mesh_err_detail());
    snprintf(wrong, sizeof(wrong), "%s", fx->secret);
    wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
    rc_wrong = check(fx, fx->id, wrong, T0, &why);
    assert_string_equal(why, "wrong_secret");
    assert_int_equal(rc_unknown, MESH_ERR_ISSUER_ERROR);
    assert_int_equal(rc_wrong, rc_unknown);
    assert_string_equal(mesh_err_detail(), detail_unknown);
    assert_null(strstr(detail_unknown, fx->secret));
    /* Malformed secrets are refused the same way. */
    assert_int_equal(check(fx, fx->id, "", T0, &why), MESH_ERR_ISSUER_ERROR);
    assert_int_equal(check(fx, fx->id, fx->secret + 4, T0, &why), MESH_ERR_ISSUER_ERROR);
    assert_int_equal(check(fx, "", fx->secret, T0, &why), MESH_ERR_ISSUER_ERROR);
    assert_string_equal(mesh_err_detail(), detail_unknown);
}

static void test_expired(void **state)
{
    struct fixture *fx = *state;
    const char *why = NULL;

    assert_int_equal(check(fx, fx->id, fx->secret, T0 + 30 * DAY - 1, &why), MESH_OK);
    assert_int_equal(check(fx, fx->id, fx->secret, T0 + 30 * DAY, &why), MESH_ERR_ISSUER_ERROR);
    assert_string_equal(why, "expired");
}

static void test_rotate_with_grace(void **state)
{
    struct fixture *fx = *state;
    char fresh[MESH_MAX_CLIENT_SECRET];
    const char *why = NULL;
    int64_t t = T0 + DAY;

    assert_int_equal(svc_token_rotate(fx->s, "ci-deploy", 3600, t, fresh), MESH_OK);
    assert_string_not_equal(fresh, fx->secret);
    assert_int_equal(check(fx, fx->id, fresh, t + 1, &why), MESH_OK);
    assert_string_equal(why, "ok");
    assert_int_equal(check(fx, fx->id, fx->secret, t + 1, &why), MESH_OK);
    assert_string_equal(why, "ok_previous_secret");
    assert_int_equal(check(fx, fx->id, fx->secret, t + 3599, &why), MESH_OK);
    assert_int_equal(check(fx, fx->id, fx->secret, t + 3600, &why), MESH_ERR_ISSUER_ERROR);
    assert_string_equal(why, "wrong_secret");
    assert_int_equal(check(fx, fx->id, fresh, t + 3600, &why), MESH_OK);
}

/* A second rotation retires the first secret at once, whatever its grace said. */
static void test_rotate_twice_and_without_grace(void **state)
{
    struct fixture *fx = *state;
    char s2[MESH_MAX_CLIENT_SECRET], s3[MESH_MAX_CLIENT_SECRET];
    const char *why = NULL;

    assert_int_equal(svc_token_rotate(fx->s, "ci-deploy", 3600, T0, s2), MESH_OK);
    assert_int_equal(svc_token_rotate(fx->s, "ci-deploy", 0, T0 + 10, s3), MESH_OK);
    assert_int_equal(check(fx, fx->id, fx->secret, T0 + 11, &why), MESH_ERR_ISSUER_ERROR);
    assert_int_equal(check(fx, fx->id, s2, T0 + 11, &why), MESH_ERR_ISSUER_ERROR);
    assert_int_equal(check(fx, fx->id, s3, T0 + 11, &why), MESH_OK);
    assert_int_equal(svc_token_rotate(fx->s, "nope", 0, T0, s3), MESH_ERR_NOT_FOUND);
    assert_int_equal(svc_token_rotate(fx->s, "ci-deploy", -1, T0, s3), MESH_ERR_INVALID_ARG);
}

static void test_revoke(void **state)
{
    struct fixture *fx = *state;
    char fresh[MESH_MAX_CLIENT_SECRET];
    const char *why = NULL;

    assert_int_equal(svc_token_rotate(fx->s, "ci-deploy", 3600, T0, fresh), MESH_OK);
    assert_int_equal(svc_token_revoke(fx->s, "ci-deploy", T0, 630), MESH_OK);
    assert_int_equal(check(fx, fx->id, fresh, T0 + 1, &why), MESH_ERR_ISSUER_ERROR);
    assert_string_equal(why, "revoked");
    assert_int_equal(check(fx, fx->id, fx->secret, T0 + 1, &why), MESH_ERR_ISSUER_ERROR);
    assert_int_equal(svc_token_rotate(fx->s, "ci-deploy", 0, T0, fresh), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "revoked"));
    assert_int_equal(svc_token_revoke(fx->s, "nope", T0, 630), MESH_ERR_NOT_FOUND);
}

static void test_names_validated(void **state)
{
    struct fixture *fx = *state;
    static const char *bad[] = {
        "",          "CI",
        "ci_deploy", "ci deploy",
        "-ci",       "ci-",
        "ci.deploy", "0123456789012345678901234567890123456789012345678901234567890123"};
    char id[64] = "untouched", secret[MESH_MAX_CLIENT_SECRET] = "untouched";

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(svc_token_create(fx->s, bad[i], "orders", "", DAY, T0, id, secret),
                         MESH_ERR_CONFIG);
        assert_non_null(strstr(mesh_err_detail(), "name"));
    }
    assert_int_equal(svc_token_create(fx->s, NULL, "orders", "", DAY, T0, id, secret),
                     MESH_ERR_CONFIG);
    assert_string_equal(id, "untouched"); /* outputs only on success */
    assert_string_equal(secret, "untouched");
    assert_int_equal(svc_token_create(fx->s, "a", "orders", "", DAY, T0, id, secret), MESH_OK);
    assert_int_equal(svc_token_create(fx->s,
                                      "012345678901234567890123456789012345678901234567"
                                      "890123456789012",
                                      "orders", "", DAY, T0, id, secret),
                     MESH_OK); /* 63 characters */
}

static void test_lists_and_lifetime_validated(void **state)
{
    struct fixture *fx = *state;
    char id[64], secret[MESH_MAX_CLIENT_SECRET];

    assert_int_equal(svc_token_create(fx->s, "x", "", "", DAY, T0, id, secret), MESH_ERR_CONFIG);
    assert_int_equal(svc_token_create(fx->s, "x", "a,,b", "", DAY, T0, id, secret),
                     MESH_ERR_CONFIG);
    assert_int_equal(svc_token_create(fx->s, "x", "a,", "", DAY, T0, id, secret), MESH_ERR_CONFIG);
    assert_int_equal(svc_token_create(fx->s, "x", "a b", "", DAY, T0, id, secret), MESH_ERR_CONFIG);
    assert_int_equal(svc_token_create(fx->s, "x", "a", "read  write", DAY, T0, id, secret),
                     MESH_ERR_CONFIG);
    assert_int_equal(svc_token_create(fx->s, "x", "a", "r\"", DAY, T0, id, secret),
                     MESH_ERR_CONFIG);
    assert_int_equal(svc_token_create(fx->s, "x", "a", "", 0, T0, id, secret), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "lifetime"));
    assert_int_equal(svc_token_create(fx->s, "x", "a,b", "read write", DAY, T0, id, secret),
                     MESH_OK);
}

static void test_duplicate_name(void **state)
{
    struct fixture *fx = *state;
    char id[64], secret[MESH_MAX_CLIENT_SECRET];

    assert_int_equal(svc_token_create(fx->s, "ci-deploy", "orders", "", DAY, T0, id, secret),
                     MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "already exists"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_not_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_id_same_as_wrong_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_with_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_twice_and_without_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists_and_lifetime_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_name, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
