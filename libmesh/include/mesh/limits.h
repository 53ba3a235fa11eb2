/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every limit libmesh applies to untrusted input, in one place. Programs built on libmesh
 * (mesh-issuer, the gateway example) take their limits from here too, so one number means
 * one thing everywhere.
 */
#ifndef MESH_LIMITS_H
#define MESH_LIMITS_H

/* Tokens (DESIGN.md "Verification rules") */
#define MESH_MAX_TOKEN_BYTES 8192     /* a compact JWS longer than this is rejected unread */
#define MESH_MAX_JSON_DEPTH 8         /* header/claims nesting; cnf is depth 2 */
#define MESH_MAX_HEADER_JSON_BYTES 1024 /* decoded JOSE header */
#define MESH_MAX_CLAIM_STRING 2048    /* any one claim string (sub, aud, scope, ...) */
#define MESH_MAX_SCOPES 64            /* space-separated scope values in one token */

/* Time (seconds) */
#define MESH_DEFAULT_SKEW 30          /* allowed clock difference for exp/nbf/iat */
#define MESH_DEFAULT_MAX_LIFETIME 600 /* exp - iat above this is rejected */
#define MESH_TTL_DEFAULT 300          /* issuer's default token lifetime */
#define MESH_TTL_MIN 30
#define MESH_TTL_MAX 600

/* Keys and key sets */
#define MESH_MIN_RSA_BITS 2048
#define MESH_MAX_RSA_BITS 8192
#define MESH_MAX_JWK_BYTES 16384      /* one JWK */
#define MESH_MAX_JWKS_BYTES 65536     /* a whole JWKS document */
#define MESH_MAX_JWKS_KEYS 32         /* keys kept from one JWKS */
#define MESH_MAX_PEM_BYTES 65536      /* one PEM file (key or certificate chain) */
#define MESH_KID_MAX 128              /* a kid string (thumbprints are 43 chars) */

/* Certificates */
#define MESH_MAX_CHAIN_DEPTH 4        /* leaf + intermediate + root, plus one spare */
#define MESH_MAX_TRUST_CERTS 64       /* CA certificates in a verifier's trust bundle */
#define MESH_MAX_CRL_BYTES 1048576    /* a verifier's CRL file (PEM, all CRLs together) */

/* HTTP (issuer and gateway) */
#define MESH_MAX_REQUEST_BODY 16384
#define MESH_MAX_HEADER_BYTES 8192    /* all request headers together */
#define MESH_MAX_HEADER_COUNT 64
#define MESH_REQUEST_TIMEOUT 10       /* seconds for a whole request to arrive */
#define MESH_IDLE_TIMEOUT 60          /* seconds a keep-alive connection may sit idle */
#define MESH_UNAUTH_IDLE_TIMEOUT 5    /* ... when no client certificate verified on it */
#define MESH_TLS_SESSION_CACHE 1024   /* TLS sessions the issuer keeps (~8 KiB each, a chain) */
#define MESH_LOG_REFUSALS_PER_S 10    /* refusal log lines a second; the rest are counted */
#define MESH_ACCEPT_PAUSE_MS 1000     /* accepting pauses this long when out of descriptors */

/* Revocation feed (GET /v1/revocations, read by verifiers) */
#define MESH_MAX_REVOKED 1000000      /* entries (jti, subject, certificate) a verifier holds */
#define MESH_MAX_FEED_BYTES (4 * 1024 * 1024) /* one feed page */
/*
 * Pages one poll follows while the issuer answers "more": 1024 pages of the issuer's 1000
 * entries reach MESH_MAX_REVOKED, so a fresh verifier loads a full feed in its first poll.
 */
#define MESH_MAX_FEED_PAGES_PER_POLL 1024

/* Certificate binding (verifier) */
#define MESH_MAX_BINDING_SPEC 4096    /* the subject list of a binding "unbound-for:" policy */
#define MESH_X5T_MEMO_DER_MAX 4096    /* largest certificate whose thumbprint a thread memoises */

#endif /* MESH_LIMITS_H */
