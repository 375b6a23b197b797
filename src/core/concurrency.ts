/**
 * Concurrency limits: `p-limit` runs the work, at most `concurrency` at a time; a stream is pulled
 * only as fast as the work starts, so memory stays flat however long it is. And a wait that ends at a signal.
 */
import pLimit from 'p-limit'

/**
 * Runs `work` over a stream of items, at most `concurrency` at a time, pulling the next item only
 * once the last one pulled has started: at most one item waits for a slot. The first failure stops it.
 */
export async function forEachConcurrent<T>(
  items: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  work: (item: T) => Promise<void>
): Promise<void> {
  const limit = pLimit(concurrency)
  const running = new Set<Promise<void>>()
  let failure: { error: unknown } | undefined
  for await (const item of items) {
    if (failure !== undefined) break
    let started!: () => void
    const slot = new Promise<void>(resolve => {
      started = resolve
    })
    const task: Promise<void> = limit(async () => {
      started()
      await work(item)
    })
      .catch(error => {
        failure ??= { error }
      })
      .finally(() => running.delete(task))
    running.add(task)
    await slot
  }
  await Promise.all(running)
  if (failure !== undefined) throw failure.error
}

/** Runs work one at a time per key (in this process): a second call for a key waits for the first. */
export class KeyedLock {
  private readonly running = new Map<string, Promise<unknown>>()

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    while (this.running.has(key)) await this.running.get(key)!.catch(() => {})
    const task = work()
    this.running.set(key, task)
    try {
      return await task
    } finally {
      this.running.delete(key)
    }
  }
}

/** `promise`, or the signal's reason as soon as it aborts (the work goes on; its failure is then nobody's). */
export async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await promise
  signal.throwIfAborted()
  promise.catch(() => {})
  let onAbort!: () => void
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
