/**
 * Commands that take several operands (`store *.jpg`, `exists a b`): each is acted on, each gets
 * its own result, and the exit code is the worst of them, so `store *.jpg && rm *.jpg` never
 * removes a frame that was not stored.
 */
import type { ImageStorage } from '../core/types.js'
import { ImageStorageError } from '../core/errors.js'
import { storeLine, type Context } from './context.js'
import { EXIT } from './exit-codes.js'

export type Outcome<T> = { item: string; result: T } | { item: string; error: ImageStorageError }

/**
 * `work` on each operand in turn. An item's own failure (not an image, not found, damaged) is its
 * outcome; a store that cannot be used (unavailable, misconfigured) stops the command.
 */
export async function eachOperand<T>(
  operands: string[],
  work: (operand: string) => Promise<T>
): Promise<Array<Outcome<T>>> {
  const outcomes: Array<Outcome<T>> = []
  for (const item of operands) {
    try {
      outcomes.push({ item, result: await work(item) })
    } catch (err) {
      if (!(err instanceof ImageStorageError) || err.code === 'ERR_STORAGE_UNAVAILABLE' || err.code === 'ERR_CONFIG')
        throw err
      outcomes.push({ item, error: err })
    }
  }
  return outcomes
}

/**
 * The answer for several operands: a line (or block) per item, then the count and the store; with
 * --json `{ command, results, failed, store }`, a result per item, or `{ item, error }`. Returns
 * the exit code: 0, or the highest of the failed items' codes (`extra` adds one, as `exists`'s 1).
 */
export function reportOutcomes<T>(
  cli: Context,
  storage: ImageStorage,
  outcomes: Array<Outcome<T>>,
  show: {
    human: (result: T, item: string) => string
    json: (result: T, item: string) => object
    verb: string
    exit?: (result: T) => number
  }
): number {
  const failed = outcomes.filter(o => 'error' in o).length
  const lines = outcomes.map(o =>
    'error' in o ? `${o.item}: ${o.error.code}: ${o.error.message}` : show.human(o.result, o.item)
  )
  const results = outcomes.map(o =>
    'error' in o
      ? { item: o.item, error: { code: o.error.code, message: o.error.message } }
      : show.json(o.result, o.item)
  )
  cli.out(
    `${lines.join('\n')}\n${outcomes.length - failed} of ${outcomes.length} ${show.verb}, ${failed} failed\n` +
      storeLine(storage),
    { command: cli.command.name, results, failed, store: storage.location }
  )
  return Math.max(0, ...outcomes.map(o => ('error' in o ? EXIT[o.error.code] : (show.exit?.(o.result) ?? 0))))
}
