/**
 * `replicate --watch --metrics-port N` / `--metrics-address host:port`: `/metrics` over plain
 * node:http. A bare port listens on loopback only (127.0.0.1): the series name the replicas and
 * the backlog, which is nobody else's business; an address (`0.0.0.0:9465`, `[::]:9465`, an
 * interface's own) opens it to a Prometheus on another host, on purpose.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ReplicatedStorage } from '../features/replication/index.js'
import { createReplicationMetrics } from '../features/replication/metrics.js'
import { ConfigError } from '../core/errors.js'
import { UsageError, type Context } from './context.js'

/** What the service loop tells the metrics, and stops at the end; undefined without --metrics-*. */
export interface ServedMetrics {
  /** A reconcile of `ms` ended: its duration, and the lost frames counted again. */
  reconciled: (ms: number, signal: AbortSignal) => Promise<void>
  close: () => Promise<void>
}

/** Starts the metrics server for `replicate --watch`, if asked: before any work, so a bad port fails at once. */
export async function startMetrics(cli: Context, storage: ReplicatedStorage): Promise<ServedMetrics | undefined> {
  const address = parseMetricsAddress(cli.string('metrics-port'), cli.string('metrics-address'))
  if (address === undefined) return undefined
  if (cli.flags.watch !== true)
    throw new UsageError('--metrics-port and --metrics-address serve the metrics of the service: add --watch')
  const metrics = await createReplicationMetrics(storage)
  const server = await serveMetrics(address, metrics).catch((err: unknown) => {
    metrics.close()
    throw err
  })
  cli.note(`metrics at ${server.url}`)
  await metrics.scanLost()
  return {
    reconciled: async (ms, signal) => {
      metrics.reconciled(ms / 1000)
      await metrics.scanLost({ signal })
    },
    close: async () => {
      metrics.close()
      await server.close()
    }
  }
}

export interface MetricsSource {
  readonly contentType: string
  text: () => Promise<string>
}

export interface MetricsAddress {
  host: string
  port: number
}

/** `--metrics-port 9465` (loopback) or `--metrics-address host:port`; undefined if neither is given. */
export function parseMetricsAddress(port: string | undefined, address: string | undefined): MetricsAddress | undefined {
  if (port !== undefined && address !== undefined)
    throw new UsageError('give --metrics-port N (loopback) or --metrics-address host:port, not both')
  if (port !== undefined) return { host: '127.0.0.1', port: parsePort(port, '--metrics-port') }
  if (address === undefined) return undefined
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d+)$/.exec(address)
  if (match === null)
    throw new UsageError(
      `--metrics-address takes host:port (127.0.0.1:9465, 0.0.0.0:9465, [::1]:9465), not ${JSON.stringify(address)}`
    )
  return { host: match[1] ?? match[2]!, port: parsePort(match[3]!, '--metrics-address') }
}

function parsePort(text: string, option: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text) || port > 65535)
    throw new UsageError(`${option} takes a TCP port, 0 to 65535 (0: any free one), not ${JSON.stringify(text)}`)
  return port
}

/** Serves GET /metrics; resolves once listening (a port in use is an error here, before any work). */
export async function serveMetrics(
  address: MetricsAddress,
  metrics: MetricsSource
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (path !== '/metrics') return answer(response, 404, 'not found: the metrics are at /metrics\n')
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return answer(response, 405, 'GET /metrics\n', { allow: 'GET, HEAD' })
    metrics.text().then(
      text => {
        answer(response, 200, request.method === 'HEAD' ? '' : text, { 'content-type': metrics.contentType })
      },
      (err: unknown) => {
        answer(response, 500, `collecting the metrics failed: ${(err as Error).message}\n`)
      }
    )
  })
  server.unref() // the service's loop keeps the process alive; a failure of it ends the process, server or not
  server.listen(address.port, address.host)
  try {
    await once(server, 'listening')
  } catch (err) {
    const code = (err as { code?: string }).code
    // the host's state, not the command's spelling: ERR_CONFIG (exit 6), as a monitor reads it
    throw new ConfigError(
      `${address.host}:${address.port}`,
      `cannot serve the metrics there: ${code === 'EADDRINUSE' ? 'the port is in use' : (err as Error).message}`
    )
  }
  const { port } = server.address() as AddressInfo
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  return {
    url: `http://${host}:${port}/metrics`,
    close: async () => {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

function answer(
  response: import('node:http').ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {}
): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers })
  response.end(body)
}
