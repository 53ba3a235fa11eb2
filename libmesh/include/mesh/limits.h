/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every limit libmesh applies to untrusted input, in one place. Programs built on libmesh
 * (mesh-issuer, the gateway example) take their limits from here too, so one number means
 * one thing everywhere.
 */
#ifndef MESH_LIMITS_H
#define MESH_LIMITS_H

/* Tokens (DESIGN.md "Verification rules") */
#define MESH_MAX_TOKEN_BYTES       8192 /* a compact JWS longer than this is rejected unread */
#define MESH_MAX_JSON_DEPTH        8    /* header/claims nesting; cnf is depth 2 */
#define MESH_MAX_HEADER_JSON_BYTES 1024 /* decoded JOSE header */
#define MESH_MAX_CLAIM_STRING      2048 /* any one claim string (sub, aud, scope, ...) */
#define MESH_MAX_SCOPES            64   /* space-separated scope values in one token */

/* Configuration files (read by programs; a person writes them, an attacker may not) */
#define MESH_MAX_CONFIG_JSON_DEPTH 8 /* issuer config nesting; the deepest valid one is 4 */

/* Time (seconds) */
#define MESH_DEFAULT_SKEW         30  /* allowed clock difference for exp/nbf/iat */
#define MESH_DEFAULT_MAX_LIFETIME 600 /* exp - iat above this is rejected */
#define MESH_TTL_DEFAULT          300 /* issuer's default token lifetime */
#define MESH_TTL_MIN              30
#define MESH_TTL_MAX              600

/* Keys and key sets */
#define MESH_MIN_RSA_BITS   2048
#define MESH_MAX_RSA_BITS   8192
#define MESH_MAX_JWK_BYTES  16384 /* one JWK */
#define MESH_MAX_JWKS_BYTES 65536 /* a whole JWKS document */
#define MESH_MAX_JWKS_KEYS  32    /* keys kept from one JWKS */
#define MESH_MAX_PEM_BYTES  65536 /* one PEM file (key or certificate chain) */
#define MESH_KID_MAX        128   /* a kid string (thumbprints are 43 chars) */

/* Certificates */
#define MESH_MAX_CHAIN_DEPTH 4       /* leaf + intermediate + root, plus one spare */
#define MESH_MAX_TRUST_CERTS 64      /* CA certificates in a verifier's trust bundle */
#define MESH_MAX_CRL_BYTES   1048576 /* a verifier's CRL file (PEM, all CRLs together) */
#define MESH_MAX_SPIFFE_ID   2048    /* a SPIFFE ID URI (SPIFFE ID spec §2.3) */

/* HTTP (issuer and gateway) */
#define MESH_MAX_REQUEST_BODY    16384
#define MESH_MAX_HEADER_BYTES    8192 /* all request headers together */
#define MESH_MAX_HEADER_COUNT    64
#define MESH_REQUEST_TIMEOUT     10   /* seconds for a whole request to arrive */
#define MESH_IDLE_TIMEOUT        60   /* seconds a keep-alive connection may sit idle */
#define MESH_UNAUTH_IDLE_TIMEOUT 5    /* ... when no client certificate verified on it */
#define MESH_TLS_SESSION_CACHE   1024 /* TLS sessions the issuer keeps (~8 KiB each, a chain) */
#define MESH_LOG_REFUSALS_PER_S  10   /* refusal log lines a second; the rest are counted */
#define MESH_ACCEPT_PAUSE_MS     1000 /* accepting pauses this long when out of descriptors */

/* HTTP (the examples' HTTPS server, examples/common: the gateway forwards bodies upstream) */
#define MESH_GATEWAY_MAX_BODY         (1024 * 1024) /* a request body the gateway forwards */
#define MESH_GATEWAY_MAX_HEADER_BYTES (16 * 1024)   /* all request headers together */
#define MESH_GATEWAY_IO_TIMEOUT       30            /* seconds a request may take to arrive */

/*
 * mesh-issuer: what one request may carry, and how much per-peer state the issuer keeps (a
 * table that is full refuses, evicts or pools; it never grows past these)
 */
#define MESH_MAX_REQUEST_PARAMS 16            /* parameters in one token or revoke request body */
#define MESH_MAX_CLIENT_SECRET  128           /* a service token's secret, its NUL included */
#define MESH_MAX_SERVICE_NAME   63            /* a service token's name: one DNS label */
#define MESH_MAX_CONFIG_BYTES   (1024 * 1024) /* the issuer's config file */
#define MESH_MAX_ALLOWED_SCOPES 256           /* scopes one caller is allowed at one audience */
#define MESH_MAX_SOURCES        16384 /* source addresses whose open connections are counted */
#define MESH_MAX_RATELIMIT_KEYS 65536 /* identities (or sources) with a rate-limit bucket */
#define MESH_MAX_RATELIMIT_KEY  512   /* bytes of a key that count; longer ones share a bucket */
#define MESH_MAX_SEEN_CERTS     65536 /* certificates that got a token, kept for CRL revocation */
#define MESH_MAX_AUDIT_FIELD    512   /* bytes of one request value an audit line keeps */
#define MESH_MAX_METRIC_SERIES  256   /* label sets per metric family; the rest count as "other" */
#define MESH_MAX_METRIC_LABEL   128   /* bytes kept of a metric label value */

/* The client and the mesh tool: answers from the issuer and from peers */
#define MESH_MAX_TOKEN_RESPONSE_BYTES  32768         /* the issuer's answer to a token request */
#define MESH_MAX_EXPIRES_IN            86400         /* a token response's expires_in, seconds */
#define MESH_MAX_RESPONSE_BODY         (1024 * 1024) /* a fetch (JWKS, metadata, feed) by default */
#define MESH_MAX_METADATA_BYTES        16384         /* an issuer's RFC 8414 metadata document */
#define MESH_MAX_RESPONSE_HEADER_BYTES 32768         /* all headers of one response */
#define MESH_MAX_PEER_RESPONSE_BODY    (16 * 1024 * 1024) /* mesh_client_request by default */
#define MESH_MAX_DOCTOR_BODY           (256 * 1024) /* what `mesh doctor` reads of an answer */
#define MESH_MAX_CLI_HEADERS           64           /* `mesh curl -H` headers */
#define MESH_MAX_CLI_DATA              (16 * 1024 * 1024) /* `mesh curl -d @file` */

/* Certificate renewal (renew.h): the issuer's answer and what the renewer reads back */
#define MESH_MAX_CERT_RESPONSE_BYTES 65536 /* the issuer's answer to a certificate request */
#define MESH_MAX_SERIAL_HEX          64    /* a certificate serial in hex (RFC 5280: 20 bytes) */
#define MESH_RENEW_READ_TRIES        50    /* reads of a pair while a renewal is mid-swap */
#define MESH_JOIN_TOKEN_LEN          47    /* "mjt_" + base64url of 32 bytes */

/* mesh-ca: templates, its index and what they ask for */
#define MESH_MAX_TEMPLATE_BYTES 1048576        /* one template file */
#define MESH_MAX_CA_INDEX_BYTES (16 * 1048576) /* index.json */
#define MESH_MAX_CA_SERVICES    4096           /* services in one template */
#define MESH_MAX_CERT_SANS      64             /* subject alternative names of one certificate */
#define MESH_MAX_CERT_DAYS      36500          /* a certificate's validity, days */
#define MESH_MAX_PATH           4096 /* a file path libmesh or mesh-ca builds or is given */

/* Option values given to setters (verifier, JWT verify options) */
#define MESH_MAX_OPT_SECONDS        86400    /* a duration option in seconds (skew, lifetime) */
#define MESH_MAX_OPT_MS             86400000 /* a duration option in milliseconds */
#define MESH_MAX_OPT_CACHE          ((size_t)1 << 26) /* verified-token cache entries */
#define MESH_MAX_OPT_STRING         4096              /* a string option: a URL, a path, an ID */
#define MESH_MAX_VERIFIER_AUDIENCES 64   /* audiences in one verifier's space-separated list */
#define MESH_MAX_VERIFIER_TYPS      8    /* header typ values one verifier accepts */
#define MESH_MAX_REQUIRED_CLAIMS    32   /* claims a verifier requires (set_required_claims) */
#define MESH_MIN_HMAC_KEY_BYTES     32   /* an HS256 key: RFC 7518 §3.2, at least the hash size */
#define MESH_MAX_HMAC_KEY_BYTES     1024 /* an HS256 key given to a verifier */
#define MESH_MAX_CLAIM_NAME         256  /* a claim name asked for (mesh_identity_claim) */

/* Revocation feed (GET /v1/revocations, read by verifiers) */
#define MESH_MAX_REVOKED    1000000 /* entries (jti, subject, certificate) a verifier holds */
#define MESH_MAX_FEED_BYTES (4 * 1024 * 1024) /* one feed page */
/*
 * Pages one poll follows while the issuer answers "more": 1024 pages of the issuer's 1000
 * entries reach MESH_MAX_REVOKED, so a fresh verifier loads a full feed in its first poll.
 */
#define MESH_MAX_FEED_PAGES_PER_POLL 1024

/* Certificate binding (verifier) */
#define MESH_MAX_BINDING_SPEC 4096 /* the subject list of a binding "unbound-for:" policy */
#define MESH_X5T_MEMO_DER_MAX 4096 /* largest certificate whose thumbprint a thread memoises */

/* mesh-authz: its config, and what one proxy request may carry (every header is untrusted) */
#define MESH_AUTHZ_MAX_CONFIG_BYTES   (1024 * 1024) /* the config file */
#define MESH_AUTHZ_MAX_ROUTES         1024          /* routes in one config */
#define MESH_AUTHZ_MAX_ISSUERS        16            /* trusted issuers in one config */
#define MESH_AUTHZ_MAX_LISTENERS      8             /* listeners (unix and tcp) */
#define MESH_AUTHZ_MAX_WORKERS        64            /* worker threads */
#define MESH_AUTHZ_MAX_LIST           64    /* entries of one list: methods, scopes, subjects */
#define MESH_AUTHZ_MAX_HEADER_BYTES   32768 /* all headers of one proxy request together */
#define MESH_AUTHZ_MAX_CERT_HEADER    16384 /* one header carrying certificates, as sent */
#define MESH_AUTHZ_MAX_URI            8192  /* the original URI (X-Original-URI, Envoy path) */
#define MESH_AUTHZ_MAX_HOST           255   /* the original host, its port included */
#define MESH_AUTHZ_MAX_METHOD         16    /* the original method */
#define MESH_AUTHZ_MAX_XFCC_ELEMENTS  16    /* comma-separated elements of one XFCC header */
#define MESH_AUTHZ_MAX_XFCC_PAIRS     32    /* key=value pairs of one XFCC element */
#define MESH_AUTHZ_MAX_BODY           4096  /* a request body (proxies send none; it is ignored) */
#define MESH_AUTHZ_MAX_HEADER_NAME    64    /* a configured header name (token_header, claims) */
#define MESH_AUTHZ_MAX_REQUIRES_ALL   4     /* issuers one route's requires_all names */
#define MESH_AUTHZ_MAX_API_KEYS       1024  /* keys of one api-keys issuer */
#define MESH_AUTHZ_MIN_API_KEY_BYTES  32    /* hash-key: a shorter key is not random enough */
#define MESH_AUTHZ_MAX_API_KEY_BYTES  512   /* one API key header value */
#define MESH_AUTHZ_MAX_QUOTA          100000000 /* N of a rate limit "N/period" */
#define MESH_AUTHZ_MAX_RATE_KEYS      65536     /* (route, subject) counters kept; full: 503 */
#define MESH_AUTHZ_MAX_REPLAY_ENTRIES 262144    /* jti kept by single-use routes; full: 503 */
#define MESH_AUTHZ_IDLE_TIMEOUT       60   /* seconds a proxy's keep-alive connection may idle */
#define MESH_AUTHZ_MAX_CONNECTIONS    1024 /* open connections of one listener; more: closed */

/* Online certificate issuance (mesh-issuer POST /v1/certificate, docs/CERTIFICATES.md) */
#define MESH_MAX_CSR_BYTES             8192 /* the PEM CERTIFICATE REQUEST in a request body */
#define MESH_MAX_CSR_NAMES             32   /* subject alternative names one CSR may ask for */
#define MESH_MIN_CSR_RSA_BITS          2048 /* an RSA key in a CSR: smaller is refused */
#define MESH_MAX_CSR_RSA_BITS          8192 /* larger RSA keys are refused (cost of a check) */
#define MESH_CERT_LIFETIME_MIN         60   /* lowest certificates.min_lifetime, seconds */
#define MESH_CERT_LIFETIME_MAX         (30 * 86400) /* highest certificates.max_lifetime, seconds */
#define MESH_CERT_LIFETIME_DEFAULT     86400        /* certificates.default_lifetime */
#define MESH_CERT_MIN_LIFETIME_DEFAULT 300          /* certificates.min_lifetime */
#define MESH_CERT_MAX_LIFETIME_DEFAULT (7 * 86400)  /* certificates.max_lifetime */
#define MESH_MAX_CERT_SERVICES         4096         /* certificates.services[] entries */
#define MESH_JOIN_TOKEN_TTL_MAX        (7 * 86400) /* longest join token (join-token create --ttl) */
#define MESH_MAX_JOIN_TOKEN            64   /* a Mesh-Join-Token header: "mjt_" + 43 characters */
#define MESH_CRL_SERVED_NEXT_S         3600 /* nextUpdate of the CRL GET /v1/crl signs: 1 h */
#define MESH_CRL_FILE_NEXT_S           (7 * 86400) /* nextUpdate of certificates.crl, the file */

#endif /* MESH_LIMITS_H */
