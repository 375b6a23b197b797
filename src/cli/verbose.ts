/**
 * `--verbose`: each traced operation on stderr as it ends, with its time and what it gave, as
 * NODE_DEBUG does for undici: `sai-images: store fs 3.1 ms {hash,size,isDuplicate,mimeType}`.
 */
import { tracingChannel } from 'node:diagnostics_channel'
import { TRACING_CHANNELS, type TraceContext } from '../core/tracing.js'

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
