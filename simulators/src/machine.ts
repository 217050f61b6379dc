import { readFileSync } from 'node:fs'
import os from 'node:os'

/**
 * The machine a figure was measured on: a number without it means little.
 *
 * @example console.log(formatMachine(machineInfo()))
 */
export interface MachineInfo {
  cpuModel: string
  cores: number
  memoryMb: number
  node: string
  platform: string
  hostname: string
  loadavg: number[]
  openFileLimit: string
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryMb: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    hostname: os.hostname(),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    openFileLimit: openFileLimit(),
  }
}

function openFileLimit(): string {
  // Linux exposes the soft and hard limits here; elsewhere say we do not know.
  try {
    const text = readFileSync('/proc/self/limits', 'utf8')
    const line = text.split('\n').find((l) => l.startsWith('Max open files'))
    const parts = line?.split(/\s{2,}/)
    return parts ? `${parts[1]} soft / ${parts[2]} hard` : 'unknown'
  } catch {
    return 'unknown'
  }
}

export function formatMachine(m: MachineInfo): string {
  return `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryMb} MB RAM, node ${m.node}, ${m.platform}, load ${m.loadavg.join(' ')}, open files ${m.openFileLimit}`
}
