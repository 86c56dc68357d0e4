/**
 * OpenTelemetry for the sample, from the standard variables: OTEL_TRACES_EXPORTER=console and/or
 * OTEL_METRICS_EXPORTER=console print spans and metrics (every OTEL_METRIC_EXPORT_INTERVAL ms,
 * default 60000) on the console. Registered before the Nest app is created, as the library
 * picks OpenTelemetry up when the application starts. A real app uses the exporter of its
 * backend (OTLP) instead, usually through @opentelemetry/sdk-node.
 */
export async function startTelemetryFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean> {
  const traces = env['OTEL_TRACES_EXPORTER'] === 'console';
  const metrics = env['OTEL_METRICS_EXPORTER'] === 'console';
  if (!traces && !metrics) return false;
  const api = await import('@opentelemetry/api');
  if (traces) {
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    const { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } =
      await import('@opentelemetry/sdk-trace-base');
    api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    api.trace.setGlobalTracerProvider(
      new BasicTracerProvider({
        spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())],
      }),
    );
  }
  if (metrics) {
    const { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } =
      await import('@opentelemetry/sdk-metrics');
    const interval = Number(env['OTEL_METRIC_EXPORT_INTERVAL'] ?? 60_000);
    const reader = new PeriodicExportingMetricReader({
      exporter: new ConsoleMetricExporter(),
      exportIntervalMillis: Number.isFinite(interval) && interval > 0 ? interval : 60_000,
    });
    api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  }
  return true;
}
