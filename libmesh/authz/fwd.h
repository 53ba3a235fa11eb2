/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The headers a proxy forwards the caller's certificate in, decoded to a PEM chain (leaf
 * first) for mesh_verify_pem. Every value is untrusted input bounded by
 * MESH_AUTHZ_MAX_CERT_HEADER; each function returns NULL on success (*pem new, free(); NULL
 * when the header says no certificate was presented) or a short reason code for a header
 * that is malformed or too large ("cert_header_malformed", "cert_header_too_large",
 * "xfcc_malformed", "xfcc_no_cert", "xfcc_hash_mismatch"): the request is then refused (401), never
 * guessed at.
 */
#ifndef AUTHZ_FWD_H
#define AUTHZ_FWD_H

#include <stdbool.h>
#include <stddef.h>

/* Strict RFC 3986 percent-decoding of `len` bytes into `out` (room for len + 1; NUL-ended):
 * false for a '%' not followed by two hex digits or a decoded NUL. '+' stays '+'. */
bool fwd_pct_decode(const char *in, size_t len, char *out, size_t *outlen);

/* nginx: $ssl_client_escaped_cert, the leaf's PEM percent-encoded ("" or absent: none). */
const char *fwd_nginx_cert(const char *value, char **pem, size_t *len);

/*
 * Envoy: x-forwarded-client-cert. Elements are comma-separated, each element
 * semicolon-separated Key=Value pairs; a value may be double-quoted (then ',', ';' and '='
 * may appear inside, and a backslash escapes the next character). The LAST element is used:
 * it is the one the proxy that calls mesh-authz appended for its own downstream peer (Envoy's
 * APPEND_FORWARD and SANITIZE_SET both put the current peer last); earlier elements were
 * asserted by hops further away and prove nothing about who presented the token here. Of
 * that element, Chain= (leaf first) is used when present, else Cert=; both are percent-encoded
 * PEM. An element with only Hash= (or no certificate at all) is "xfcc_no_cert": a hash cannot
 * be checked against the trust bundle, so configure Envoy to forward Cert (see docs/AUTHZ.md).
 * When the element has Hash= too, it must be the hex SHA-256 of the leaf's DER (Cert=, else
 * Chain='s first): "xfcc_hash_mismatch" when it is not, "xfcc_malformed" when it is no such
 * hex string, "cert_header_malformed" when the certificate cannot be read to hash it.
 */
const char *fwd_xfcc_cert(const char *value, char **pem, size_t *len);

/*
 * Traefik passTLSClientCert (pem: true): X-Forwarded-Tls-Client-Cert holds each certificate's
 * PEM with the BEGIN/END lines and newlines removed (the base64 of its DER), certificates
 * separated by ',' (leaf first); Traefik v2 also percent-encodes the whole value. Both forms
 * are read; at most MESH_MAX_CHAIN_DEPTH certificates.
 */
const char *fwd_traefik_cert(const char *value, char **pem, size_t *len);

#endif /* AUTHZ_FWD_H */
