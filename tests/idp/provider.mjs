// SPDX-License-Identifier: Apache-2.0
// A real, independent OpenID provider for the verifier's external-IdP test: panva's
// oidc-provider (pinned in package.json, installed by `./dev deps`), over HTTPS on 127.0.0.1
// with a port the OS chooses. One client_credentials client; resource indicators (RFC 8707)
// that issue JWT access tokens (RFC 9068) for three resource servers:
//   https://asset.test/    audience asset-service,   RS256 (its RSA key has no "alg")
//   https://jobs.test/     audience jobs-service,    ES256
//   https://profile.test/  audience profile-service, RS256, with email claims added
//
// usage: node provider.mjs CERT.pem KEY.pem READY_FILE
// Writes {"issuer": ..., "port": ...} to READY_FILE (atomically) once it listens; stops on
// SIGTERM. Nothing here is a test fixture answer: every token comes from oidc-provider.
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

import Provider, { errors } from 'oidc-provider';

const [certPath, keyPath, readyFile] = process.argv.slice(2);
if (!readyFile) {
  console.error('usage: node provider.mjs CERT.pem KEY.pem READY_FILE');
  process.exit(2);
}

const resources = {
  'https://asset.test/': { audience: 'asset-service', alg: 'RS256' },
  'https://jobs.test/': { audience: 'jobs-service', alg: 'ES256' },
  'https://profile.test/': { audience: 'profile-service', alg: 'RS256' },
};

function privateJwk(type, options, kid) {
  const jwk = generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  jwk.kid = kid;
  jwk.use = 'sig';
  return jwk;
}

const server = https.createServer({
  cert: fs.readFileSync(certPath),
  key: fs.readFileSync(keyPath),
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `https://127.0.0.1:${port}`;
  const rsa = privateJwk('rsa', { modulusLength: 2048 }, 'idp-rsa-1'); // no "alg", as IdPs do
  const ec = privateJwk('ec', { namedCurve: 'P-256' }, 'idp-ec-1');
  ec.alg = 'ES256';

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'svc-client',
        client_secret: 'svc-client-secret-for-tests-only',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'read write',
      },
    ],
    jwks: { keys: [rsa, ec] },
    cookies: { keys: ['cookie-key-for-tests-only'] },
    scopes: ['read', 'write'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, indicator) {
          const rs = resources[indicator];
          if (!rs) {
            throw new errors.InvalidTarget();
          }
          return {
            audience: rs.audience,
            scope: 'read write',
            accessTokenFormat: 'jwt',
            accessTokenTTL: 300,
            jwt: { sign: { alg: rs.alg } },
          };
        },
      },
    },
    async extraTokenClaims(ctx, token) {
      if (token.resourceServer && token.resourceServer.audience === 'profile-service') {
        return { email: 'ana@example.com', email_verified: true, org: { id: 7, name: 'Acme' } };
      }
      return undefined;
    },
  });
  server.on('request', provider.callback());
  fs.writeFileSync(`${readyFile}.tmp`, JSON.stringify({ issuer, port }));
  fs.renameSync(`${readyFile}.tmp`, readyFile);
});

function stop() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
