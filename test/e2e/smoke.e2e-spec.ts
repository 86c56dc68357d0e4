import {
  startAuthorizationServer,
  API,
  RS_CLIENT,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { startTestApp, ADAPTERS } from '../fixtures/test-app.js';
import type { INestApplication } from '@nestjs/common';

describe.each(ADAPTERS)('smoke (%s)', (adapter) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startTestApp(adapter, {
      issuer: as.issuer,
      audience: API,
      realm: 'api',
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
    }));
  });
  afterAll(async () => {
    await app?.close();
    await as?.close();
  });

  it('works end to end', async () => {
    let res = await fetch(`${url}/api/read`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="api"');
    const jwt = await as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' });
    res = await fetch(`${url}/api/read`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: 'cc-jwt' });
    res = await fetch(`${url}/api/write`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('scope="api:write"');
    const opaque = await as.clientCredentials({ clientId: 'cc-opaque', scope: 'api:read' });
    res = await fetch(`${url}/api/any`, { headers: { authorization: `Bearer ${opaque}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ source: 'introspection', clientId: 'cc-opaque' });
    res = await fetch(`${url}/api/read`, { headers: { authorization: `Bearer nope` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const user = await as.mintAccessToken({
      resource: null,
      format: 'opaque',
      scope: 'openid email profile',
    });
    res = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${user}` } });
    expect(await res.json()).toMatchObject({ sub: 'alice', email: 'alice@example.test' });
    res = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('scope="openid"');
    await as.stop();
    const fresh = 'x'.repeat(40);
    res = await fetch(`${url}/api/read`, { headers: { authorization: `Bearer ${fresh}` } });
    expect(res.status).toBe(503);
    await as.start();
  });
});
