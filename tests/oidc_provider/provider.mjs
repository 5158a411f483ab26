// A real OpenID Connect provider for the sign-in tests: oidc-provider on loopback.
//
// Configured by one JSON document in OIDC_TEST_CONFIG:
//   { "port": 0, "clients": [{client_id, client_secret, redirect_uris, post_logout_redirect_uris}],
//     "accounts": { "<login>": { ...claims } } }
// Prints "listening <issuer>" once it accepts connections.
//
// Besides the standard endpoints it answers GET /_test/tamper?mode=... so a test can
// make the token endpoint hand out a forged ID token (wrong signature, audience,
// issuer, nonce, or an expired one), as a hostile or broken provider would.
import Provider from "oidc-provider";
import * as jose from "jose";

const config = JSON.parse(process.env.OIDC_TEST_CONFIG || "{}");
const port = Number(config.port || 0);
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
const { privateKey: strangerKey } = await jose.generateKeyPair("RS256", { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), alg: "RS256", use: "sig" };
signingJwk.kid = await jose.calculateJwkThumbprint(signingJwk);

const accounts = config.accounts || {};

const provider = new Provider(issuer, {
  clients: (config.clients || []).map((client) => ({
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    ...client,
  })),
  jwks: { keys: [signingJwk] },
  cookies: { keys: ["oncall-test-provider-cookie-key"] },
  pkce: { required: () => true },
  scopes: ["openid", "offline_access", "email", "profile", "groups"],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name", "preferred_username"],
    groups: ["groups"],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    const claims = accounts[id] || { preferred_username: id };
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});

let tamper = null;
provider.use(async (ctx, next) => {
  if (ctx.path === "/_test/tamper") {
    tamper = ctx.query.mode || null;
    ctx.body = { tamper };
    return;
  }
  await next();
  if (ctx.path === "/token" && tamper && ctx.body && ctx.body.id_token) {
    const claims = jose.decodeJwt(ctx.body.id_token);
    const now = Math.floor(Date.now() / 1000);
    let key = privateKey;
    if (tamper === "signature") key = strangerKey;
    if (tamper === "aud") claims.aud = "some-other-application";
    if (tamper === "issuer") claims.iss = "http://127.0.0.1:1/elsewhere";
    if (tamper === "nonce") claims.nonce = "not-the-nonce-that-was-sent";
    if (tamper === "expired") {
      claims.iat = now - 7200;
      claims.exp = now - 3600;
    }
    const idToken = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: signingJwk.kid })
      .sign(key);
    ctx.body = { ...ctx.body, id_token: idToken };
  }
});

const server = provider.listen(port, "127.0.0.1", () => {
  console.log(`listening ${issuer}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
