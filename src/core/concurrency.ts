/**
 * Runs `work` over a stream of items, at most `concurrency` at a time, pulling the next item only
 * when a slot frees: memory stays flat however long the stream is. The first failure stops it.
 */
export async function forEachConcurrent<T>(
  items: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  work: (item: T) => Promise<void>
): Promise<void> {
  const running = new Set<Promise<void>>()
  let failure: { error: unknown } | undefined
  for await (const item of items) {
    if (failure !== undefined) break
    const task: Promise<void> = work(item)
      .catch(error => {
        failure ??= { error }
      })
      .finally(() => running.delete(task))
    running.add(task)
    if (running.size >= concurrency) await Promise.race(running)
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
