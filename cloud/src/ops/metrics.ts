import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client'

/**
 * The cloud's Prometheus metrics, on a registry per app (tests build many
 * apps in one process; a global registry would refuse the second).
 */
export interface CloudMetrics {
  registry: Registry
  httpRequests: Counter<'method' | 'route' | 'status'>
  httpDurationS: Histogram<'method' | 'route'>
  authorizations: Counter<'outcome'>
  settlements: Counter<'state'>
  settlementFailures: Counter<'action' | 'code'>
  mqttMessages: Counter<'kind'>
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): CloudMetrics {
  const registry = new Registry()
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'fuelpay_cloud_' })
  return {
    registry,
    httpRequests: new Counter({ name: 'fuelpay_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    httpDurationS: new Histogram({
      name: 'fuelpay_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    authorizations: new Counter({ name: 'fuelpay_authorizations_total', help: 'Fuel authorizations by outcome', labelNames: ['outcome'], registers: [registry] }),
    settlements: new Counter({ name: 'fuelpay_settlements_total', help: 'Settled sessions by final state', labelNames: ['state'], registers: [registry] }),
    settlementFailures: new Counter({
      name: 'fuelpay_settlement_failures_total',
      help: 'Processor settlement attempts that failed (retried later)',
      labelNames: ['action', 'code'],
      registers: [registry],
    }),
    mqttMessages: new Counter({ name: 'fuelpay_mqtt_messages_total', help: 'MQTT messages the cloud handled', labelNames: ['kind'], registers: [registry] }),
  }
}
