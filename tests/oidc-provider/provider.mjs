// An OpenID Connect provider for the tests that is not ours: panva's oidc-provider (an
// OpenID Certified implementation), with its development sign-in form, in which any login
// name signs in as that subject.
//
//   node provider.mjs ISSUER CLIENTS_JSON
//
// CLIENTS_JSON is its client metadata list ({client_id, client_secret, redirect_uris}).
// It listens on a free port of 127.0.0.1 and prints the port once it accepts connections.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const [issuer, clients] = process.argv.slice(2);

// A signing key of its own at each start: a restart rotates the keys.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signing = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: JSON.parse(clients),
  jwks: { keys: [signing] },
  // A login name is the subject, and its name claim too.
  findAccount: (_ctx, id) => ({
    accountId: id,
    claims: () => ({ sub: id, name: `User ${id}` }),
  }),
  claims: { openid: ['sub'], profile: ['name'] },
  // Scope-requested claims in the ID token itself, where the gateway reads them.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['linkgate-tests-only'] },
});

const server = provider.listen(0, '127.0.0.1', () => console.log(server.address().port));
