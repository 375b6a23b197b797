/**
 * Tracing channels (`node:diagnostics_channel`), one per operation, named `sai-image-storage:<op>`,
 * as undici and fastify publish theirs: OpenTelemetry, Sentry or Datadog subscribe without patching.
 * The context is built only when someone subscribes. It holds the driver and the ref at the start,
 * a summary of the result (never bytes), the error and its `code` on failure, and never a
 * credential. Every `start` is followed by one `asyncEnd` (after `error` on a failure): subscribers
 * end spans there. docs/observability.md lists each channel's message.
 *
 * @example
 * ```ts
 * import { tracingChannel } from 'node:diagnostics_channel'
 * import { TRACING_CHANNELS } from 'sai-image-storage'
 *
 * const started = new WeakMap<object, number>()
 * tracingChannel(TRACING_CHANNELS.store).subscribe({
 *   start (ctx) { started.set(ctx, performance.now()) },
 *   asyncEnd (ctx) { histogram.observe({ driver: ctx.driver }, performance.now() - started.get(ctx)!) },
 *   error (ctx) { errors.inc({ code: ctx.code }) }
 * })
 * ```
 */
import { tracingChannel, type TracingChannel } from 'node:diagnostics_channel'
import type { VerifyReport } from './verify-report.js'

export const TRACING_CHANNELS = {
  store: 'sai-image-storage:store',
  fetch: 'sai-image-storage:fetch',
  fetchStream: 'sai-image-storage:fetchStream',
  stat: 'sai-image-storage:stat',
  delete: 'sai-image-storage:delete',
  list: 'sai-image-storage:list',
  verify: 'sai-image-storage:verify',
  prune: 'sai-image-storage:prune',
  variant: 'sai-image-storage:variant',
  replicate: 'sai-image-storage:replicate',
  heal: 'sai-image-storage:heal',
  job: 'sai-image-storage:job'
} as const

export type TracedOperation = keyof typeof TRACING_CHANNELS

/** What subscribers receive; `result` and `error` are set by the channel as the operation ends. */
export interface TraceContext {
  /** The driver's name (`fs`, `s3`, ...), or the job's. */
  driver: string
  ref?: string
  /** A summary of the result: `hash`, `size`, `isDuplicate`, `mimeType`... never the bytes. */
  result?: Record<string, unknown>
  error?: unknown
  /** The error's stable code (`ERR_NOT_FOUND`...), `ABORT_ERR`, an OS code (`EACCES`), or `ERR_UNKNOWN`. */
  code?: string
  [key: string]: unknown
}

type Channel = TracingChannel<unknown, TraceContext>
const channels = Object.fromEntries(
  Object.entries(TRACING_CHANNELS).map(([op, name]) => [op, tracingChannel(name)])
) as Record<TracedOperation, Channel>

/** Context objects built so far: none while nobody subscribes (a test counts them). */
export const tracingStats = { contexts: 0 }

/** The only place a context is made, so that `tracingStats` counts every one. */
function newContext(driver: string, ref: string | undefined, fields?: Record<string, unknown>): TraceContext {
  tracingStats.contexts++
  return { driver, ref, ...fields }
}

/** `TracingChannel.hasSubscribers` came in Node 20.13 (and 22.0): before it, ask each of its channels. */
const hasOwnGetter = typeof (channels.store as { hasSubscribers?: unknown }).hasSubscribers === 'boolean'

export function hasSubscribers(op: TracedOperation): boolean {
  const channel = channels[op]
  if (hasOwnGetter) return (channel as Channel & { hasSubscribers: boolean }).hasSubscribers
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  )
}

/** Who runs a traced operation, and what its context shows. */
export interface TraceOptions<T> {
  /** The driver's name (`fs`, `s3`...), or the job's. */
  driver: string
  ref?: string
  /** Turns the value into the context's `result` (default: the operation's, see SUMMARIES). */
  summary?: (value: T) => Record<string, unknown>
  /** Added to the start's context (never a secret). */
  fields?: Record<string, unknown>
}

/**
 * Runs `work` under the operation's channel. Not async itself: without a subscriber, the caller
 * awaits `work()`'s own promise, nothing more.
 */
export function traced<T>(op: TracedOperation, trace: TraceOptions<T>, work: () => Promise<T>): Promise<T> {
  if (!hasSubscribers(op)) return work()
  const context = newContext(trace.driver, trace.ref, trace.fields)
  return tracedWork(op, context, work, trace.summary ?? SUMMARIES[op] ?? summarize)
}

async function tracedWork<T>(
  op: TracedOperation,
  context: TraceContext,
  work: () => Promise<T>,
  summary: (value: T) => Record<string, unknown>
): Promise<T> {
  let value!: T
  await channels[op].tracePromise(async () => {
    try {
      value = await work()
    } catch (err) {
      context.code = codeOf(err)
      throw err // tracePromise sets context.error, publishes error, then asyncStart and asyncEnd
    }
    return summary(value)
  }, context)
  return value
}

/**
 * A listing traced from its first step to its last: start and end at the first step, asyncStart
 * and asyncEnd when it finishes, fails or is left by `break` (which calls `return()`); the start
 * has the listing's `prefix` and `after`, `result` counts the items. An iterator dropped without
 * `return()` never ends its span.
 */
export function tracedIterable<T>(
  op: TracedOperation,
  driver: string,
  items: AsyncGenerator<T>,
  options: { prefix?: string; after?: string } = {}
): AsyncGenerator<T> {
  // no subscriber: the iteration itself, with no generator of ours around each of its steps (a
  // million entries of a listing pay for every layer)
  return hasSubscribers(op) ? traceIteration(op, driver, items, options) : items
}

async function* traceIteration<T>(
  op: TracedOperation,
  driver: string,
  items: AsyncIterable<T>,
  options: { prefix?: string; after?: string }
): AsyncGenerator<T> {
  const channel = channels[op]
  const context = newContext(driver, undefined, { prefix: options.prefix, after: options.after })
  let count = 0
  channel.start.publish(context)
  channel.end.publish(context)
  try {
    for await (const item of items) {
      count++
      yield item
    }
  } catch (err) {
    context.error = err
    context.code = codeOf(err)
    channel.error.publish(context)
    throw err
  } finally {
    if (context.error === undefined) context.result = { count }
    channel.asyncStart.publish(context)
    channel.asyncEnd.publish(context)
  }
}

/** The fields of a stored object's result that a trace shows (a Buffer: its size). */
export function summarize(value: unknown): Record<string, unknown> {
  if (Buffer.isBuffer(value)) return { size: value.length }
  if (value === null || typeof value !== 'object') return {}
  const { hash, sha256, size, isDuplicate, mimeType } = value as Record<string, unknown>
  return Object.fromEntries(
    Object.entries({ hash, sha256, size, isDuplicate, mimeType }).filter(([, v]) => v !== undefined)
  )
}

/** The results that are not an object's: what a delete did, what a verify found. */
const SUMMARIES: Partial<Record<TracedOperation, (value: any) => Record<string, unknown>>> = {
  delete: (deleted: boolean) => ({ deleted }),
  fetchStream: () => ({}), // the stream is handed over: what flows is the caller's
  verify: ({ checked, bytes, clean, restored, quarantined, removed, counts }: VerifyReport) => ({
    checked,
    bytes,
    clean,
    restored,
    quarantined,
    removed,
    counts
  })
}

/** A DOMException's `code` is a number: the caller's abort is ABORT_ERR, its `AbortSignal.timeout` TIMEOUT_ERR. */
function codeOf(err: unknown): string {
  const { code, name } = (err ?? {}) as { code?: unknown; name?: unknown }
  if (typeof code === 'string') return code
  return name === 'AbortError' ? 'ABORT_ERR' : name === 'TimeoutError' ? 'TIMEOUT_ERR' : 'ERR_UNKNOWN'
}
