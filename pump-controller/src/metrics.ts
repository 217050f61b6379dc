import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'

/**
 * The controller's metrics, in a registry of its own so that many
 * controllers can live in one simulator process.
 */
export interface ControllerMetrics {
  registry: Registry
  backlog: Gauge
  authorizations: Counter<'result'>
  salesDelivered: Counter
  salesRejected: Counter
  deliveryFailures: Counter
  headAttempts: Gauge
  pumpState: Gauge<'pump' | 'state'>
  mqttConnected: Gauge
}

export function createControllerMetrics(opts: {
  stationId: string
  defaultMetrics?: boolean
}): ControllerMetrics {
  const registry = new Registry()
  registry.setDefaultLabels({ station: opts.stationId })
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry })
  const registers = [registry]
  return {
    registry,
    backlog: new Gauge({
      name: 'fuelpay_pc_sales_backlog',
      help: 'Completed sales not yet acknowledged by the cloud',
      registers,
    }),
    authorizations: new Counter({
      name: 'fuelpay_pc_authorizations_total',
      help: 'Pump authorizations by result (ok or reason code)',
      labelNames: ['result'],
      registers,
    }),
    salesDelivered: new Counter({
      name: 'fuelpay_pc_sales_delivered_total',
      help: 'Sales acknowledged by the cloud',
      registers,
    }),
    salesRejected: new Counter({
      name: 'fuelpay_pc_sales_rejected_total',
      help: 'Sales the cloud refused for good',
      registers,
    }),
    deliveryFailures: new Counter({
      name: 'fuelpay_pc_sale_delivery_failures_total',
      help: 'Failed sale delivery attempts (retried)',
      registers,
    }),
    headAttempts: new Gauge({
      name: 'fuelpay_pc_sales_head_attempts',
      help: 'Failed delivery attempts in a row of the oldest pending sale (0 while sales go through)',
      registers,
    }),
    pumpState: new Gauge({
      name: 'fuelpay_pc_pump_state',
      help: '1 for the state each pump is in',
      labelNames: ['pump', 'state'],
      registers,
    }),
    mqttConnected: new Gauge({
      name: 'fuelpay_pc_mqtt_connected',
      help: '1 when connected to the broker',
      registers,
    }),
  }
}
