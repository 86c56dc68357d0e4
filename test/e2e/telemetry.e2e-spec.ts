/**
 * OpenTelemetry with the real SDKs and in-memory exporters: the validations counter, the
 * authorization-server duration histogram, one client span per call, and `enduser.id` only
 * for an app that opts in. No token (or client secret) in any name, attribute or event.
 */
import { context, metrics, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  OidcResourceModule,
  TokenValidationService,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import {
  API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { expiredToken } from '../fixtures/tokens.js';
import { rejection } from '../fixtures/validation.js';

const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
});
const contextManager = new AsyncLocalStorageContextManager().enable();

let as: AuthorizationServer;
const modules: TestingModule[] = [];
const secrets: string[] = [RS_CLIENT.secret];

async function service(
  extra: Partial<OidcResourceModuleOptions> = {},
): Promise<TokenValidationService> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      OidcResourceModule.forRoot({
        issuer: as.issuer,
        audience: API,
        introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
        ...extra,
      }),
    ],
  }).compile();
  await moduleRef.init(); // onApplicationBootstrap: OpenTelemetry is picked up here
  modules.push(moduleRef);
  return moduleRef.get(TokenValidationService);
}

/** Current points of one metric, by their attributes as a string. */
async function points(name: string): Promise<Map<string, DataPoint<unknown>>> {
  metricExporter.reset();
  await reader.forceFlush();
  const found = new Map<string, DataPoint<unknown>>();
  for (const resource of metricExporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== name) continue;
        for (const point of metric.dataPoints) found.set(JSON.stringify(point.attributes), point);
      }
    }
  }
  return found;
}

const key = (attributes: Attributes) => JSON.stringify(attributes);

async function token(options: Parameters<AuthorizationServer['clientCredentials']>[0] = {}) {
  const value = await as.clientCredentials(options);
  secrets.push(value);
  return value;
}

function expectNoSecretIn(spans: ReadableSpan[]): void {
  const seen = JSON.stringify(
    spans.map((s) => ({
      name: s.name,
      attributes: s.attributes,
      events: s.events,
      status: s.status,
    })),
  );
  for (const secret of secrets) {
    expect(seen).not.toContain(secret);
    expect(seen).not.toContain(secret.split('.')[2] ?? secret);
  }
}

beforeAll(async () => {
  context.setGlobalContextManager(contextManager);
  metrics.setGlobalMeterProvider(meterProvider);
  trace.setGlobalTracerProvider(tracerProvider);
  as = await startAuthorizationServer();
});

afterAll(async () => {
  for (const moduleRef of modules) await moduleRef.close();
  await as?.close();
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  metrics.disable();
  trace.disable();
  context.disable();
});

describe('OpenTelemetry', () => {
  it('counts validations by outcome, source and cache tier, and times each AS call', async () => {
    const tokens = await service();
    const jwt = await token();
    const opaque = await token({ clientId: 'cc-opaque' });
    await tokens.validate(jwt);
    await tokens.validate(jwt);
    await tokens.validate(opaque);
    const expired = await expiredToken(as, 3600);
    secrets.push(expired);
    expect((await rejection(tokens.validate(expired))).code).toBe('token_expired');
    expect((await rejection(tokens.validate(expired))).code).toBe('token_expired');

    const validations = await points('oidc_resource.token.validations');
    expect(validations.get(key({ outcome: 'ok', source: 'jwt', cache: 'miss' }))?.value).toBe(1);
    expect(validations.get(key({ outcome: 'ok', source: 'jwt', cache: 'memory' }))?.value).toBe(1);
    expect(
      validations.get(key({ outcome: 'ok', source: 'introspection', cache: 'miss' }))?.value,
    ).toBe(1);
    expect(
      validations.get(key({ outcome: 'token_expired', source: 'jwt', cache: 'miss' }))?.value,
    ).toBe(1);
    expect(
      validations.get(key({ outcome: 'token_expired', source: 'jwt', cache: 'memory' }))?.value,
    ).toBe(1);
    expect(validations.size).toBe(5);

    const durations = await points('oidc_resource.authorization_server.duration');
    for (const endpoint of ['discovery', 'jwks', 'introspection']) {
      const point = durations.get(key({ endpoint, outcome: 'ok' }));
      expect((point?.value as Histogram | undefined)?.count).toBe(1);
    }

    const spans = spanExporter.getFinishedSpans();
    const byEndpoint = (endpoint: string) =>
      spans.filter((s) => s.attributes['oidc_resource.endpoint'] === endpoint);
    expect(byEndpoint('discovery')).toHaveLength(1);
    expect(byEndpoint('jwks')).toHaveLength(1);
    const [introspection] = byEndpoint('introspection');
    expect(introspection?.name).toBe('POST');
    expect(introspection?.kind).toBe(2); // SpanKind.CLIENT
    expect(introspection?.attributes).toEqual({
      'http.request.method': 'POST',
      'url.full': `${as.issuer}/token/introspection`,
      'server.address': '127.0.0.1',
      'server.port': as.port,
      'oidc_resource.endpoint': 'introspection',
      'http.response.status_code': 200,
    });
    expect(byEndpoint('jwks')[0]?.name).toBe('GET');
    expectNoSecretIn(spans);
    expect(spans.some((s) => 'enduser.id' in s.attributes)).toBe(false);
  });

  it('marks a failed call: error status, error.type, and the outcome of its duration', async () => {
    const tokens = await service();
    const opaque = await token({ clientId: 'cc-opaque' });
    spanExporter.reset();
    await as.stop();
    try {
      expect((await rejection(tokens.validate(opaque))).code).toBe('issuer_unavailable');
    } finally {
      await as.start();
    }
    const [discovery] = spanExporter.getFinishedSpans();
    expect(discovery?.attributes['error.type']).toBe('unreachable');
    expect(discovery?.status.code).toBe(2); // SpanStatusCode.ERROR
    const durations = await points('oidc_resource.authorization_server.duration');
    expect(durations.has(key({ endpoint: 'discovery', outcome: 'unreachable' }))).toBe(true);
    const validations = await points('oidc_resource.token.validations');
    expect(
      validations.get(
        key({ outcome: 'issuer_unavailable', source: 'introspection', cache: 'miss' }),
      )?.value,
    ).toBe(1);
  });

  it('sets enduser.id on the active span only when the app opts in', async () => {
    const tracer = trace.getTracer('test');
    const plain = await service();
    const optedIn = await service({ telemetry: { recordSubject: true } });
    const jwt = await token();
    spanExporter.reset();
    await tracer.startActiveSpan('plain request', async (span) => {
      await plain.validate(jwt);
      span.end();
    });
    await tracer.startActiveSpan('opted-in request', async (span) => {
      await optedIn.validate(jwt);
      await optedIn.validate(jwt); // a cache hit records it too
      span.end();
    });
    const spans = spanExporter.getFinishedSpans();
    expect(spans.find((s) => s.name === 'plain request')?.attributes['enduser.id']).toBeUndefined();
    expect(spans.find((s) => s.name === 'opted-in request')?.attributes['enduser.id']).toBe(
      'cc-jwt',
    );
    expectNoSecretIn(spans);
  });
});
