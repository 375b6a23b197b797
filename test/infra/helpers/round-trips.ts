import { createHook } from 'node:async_hooks'

/** How many asynchronous fs calls (each a round trip through libuv's thread pool) `work` makes. */
export async function roundTrips(work: () => Promise<unknown>): Promise<number> {
  let count = 0
  const hook = createHook({
    init(_id, type) {
      if (type === 'FSREQCALLBACK' || type === 'FSREQPROMISE') count++
    }
  })
  hook.enable()
  try {
    await work()
  } finally {
    hook.disable()
  }
  return count
}
