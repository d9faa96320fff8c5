// A real OpenID Connect provider on loopback for tests/oidc.rs (the certified `oidc-provider`).
//
//   node provider.mjs REDIRECT_URI
//
// Listens on a free port of 127.0.0.1 and prints `listening on http://127.0.0.1:PORT` once
// ready; that URL is the issuer. One client, `steadfast` / `steadfast-test-secret`
// (client_secret_basic, PKCE required), may return to REDIRECT_URI. The development sign-in
// pages accept any login and password: a login `MODE:EMAIL` signs in a person with that email
// address, and MODE changes what the token endpoint answers, so that tests can check the app
// refuses it:
//   ok          a genuine ID token with email_verified true
//   unverified  a genuine ID token with email_verified false
//   forged      the ID token signed with another key (same key id)
//   tampered    the ID token's email changed after signing
//   expired     the ID token re-signed with the provider's key, expired an hour ago
//   audience    the ID token re-signed with the provider's key, for another client
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const redirectUri = process.argv[2];
if (!redirectUri) {
  console.error('usage: node provider.mjs REDIRECT_URI');
  process.exit(2);
}

const KEY_ID = 'steadfast-test';
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

/** The mode and the email address of a login `MODE:EMAIL`. */
function parseLogin(login) {
  const [mode, email] = login.includes(':') ? login.split(':', 2) : ['ok', login];
  return { mode, email };
}

/** A compact JWS of `claims` with `header`, signed RS256 with `key`. */
function jws(header, claims, key) {
  const encode = (part) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const input = `${encode(header)}.${encode(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** The ID token the token endpoint answers for a login's mode. */
function alter(idToken, mode) {
  const [rawHeader, rawClaims, signature] = idToken.split('.');
  const header = JSON.parse(Buffer.from(rawHeader, 'base64url'));
  const claims = JSON.parse(Buffer.from(rawClaims, 'base64url'));
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'forged':
      return jws(header, claims, otherKey);
    case 'tampered': {
      const changed = Buffer.from(JSON.stringify({ ...claims, email: 'someone.else@north.example' }));
      return `${rawHeader}.${changed.toString('base64url')}.${signature}`;
    }
    case 'expired':
      return jws(header, { ...claims, iat: now - 7200, exp: now - 3600 }, signingKey);
    case 'audience':
      return jws(header, { ...claims, aud: 'another-client' }, signingKey);
    default:
      return idToken;
  }
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'steadfast',
        client_secret: 'steadfast-test-secret',
        redirect_uris: [redirectUri],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: {
      keys: [{ ...signingKey.export({ format: 'jwk' }), kid: KEY_ID, alg: 'RS256', use: 'sig' }],
    },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // Put the scopes' claims in the ID token, as Entra ID and Google do.
    conformIdTokenClaims: false,
    cookies: { keys: ['steadfast-test-cookie-key'] },
    async findAccount(_ctx, sub) {
      const { mode, email } = parseLogin(sub);
      return {
        accountId: sub,
        async claims() {
          return { sub, email, email_verified: mode !== 'unverified', name: 'Test Person' };
        },
      };
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.body && ctx.body.id_token) {
      const { sub } = JSON.parse(Buffer.from(ctx.body.id_token.split('.')[1], 'base64url'));
      ctx.body = { ...ctx.body, id_token: alter(ctx.body.id_token, parseLogin(sub).mode) };
    }
  });
  server.on('request', provider.callback());
  console.log(`listening on ${issuer}`);
});
