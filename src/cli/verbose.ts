/**
 * `--verbose`: each traced operation on stderr as it ends, with its time and what it gave, as
 * NODE_DEBUG does for undici: `sai-images: store fs 3.1 ms {hash,size,isDuplicate,mimeType}`.
 */
import { tracingChannel } from 'node:diagnostics_channel'
import type { Logger, LogFields } from '../core/logger.js'
import { TRACING_CHANNELS, type TraceContext } from '../core/tracing.js'

/**
 * The library's log as `sai-images` shows it: each event but debug, one line on stderr (under systemd, the
 * journal): `sai-images: error replication.lost: …`. Without it, the replication service's heals, losses and
 * failing replicas reached nobody but `status`.
 */
export const stderrLogger: Logger = Object.fromEntries(
  (['info', 'warn', 'error'] as const).map(level => [
    level,
    (fields: LogFields, message: string) => {
      const said = message.startsWith(`${fields.event}:`) ? message : `${fields.event}: ${message}`
      process.stderr.write(`sai-images: ${level} ${said}\n`)
    }
  ])
)

export function traceToStderr(): void {
  const started = new WeakMap<object, number>()
  for (const [op, name] of Object.entries(TRACING_CHANNELS)) {
    const line = (context: TraceContext, outcome: string): void => {
      const ms = (performance.now() - (started.get(context) ?? performance.now())).toFixed(1)
      const ref = context.ref === undefined ? '' : ` ${context.ref}`
      process.stderr.write(`sai-images: ${op} ${context.driver}${ref} ${ms} ms ${outcome}\n`)
    }
    tracingChannel<unknown, TraceContext>(name).subscribe({
      start: context => {
        started.set(context, performance.now())
      },
      end: () => {},
      asyncStart: () => {},
      asyncEnd: context => {
        if (context.error === undefined) line(context, JSON.stringify(context.result ?? {}))
      },
      error: context => {
        line(context, `failed: ${context.code ?? 'ERR_UNKNOWN'}`)
      }
    })
  }
}
