// forEachConcurrent over p-limit (src/core/concurrency.ts, 0.2) against the 34 lines of our own it
// replaced (kept here as the baseline): many small tasks, and tasks that stat a file, at 4 at a time.
//   node bench/concurrency.mjs
import { stat } from 'node:fs/promises'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'

const dir = mkdtempSync(join(tmpdir(), 'sai-limit-'))
const out = join(dir, 'concurrency.mjs')
const source = new URL('../src/core/concurrency.ts', import.meta.url).pathname
await build({ entryPoints: [source], outfile: out, bundle: true, platform: 'node', format: 'esm', logLevel: 'error' })
const ours = await import(out)

/** The hand-written limiter of 0.1, for comparison. */
async function handWritten(items, concurrency, work) {
  const running = new Set()
  let failure
  for await (const item of items) {
    if (failure !== undefined) break
    const task = work(item)
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

async function* stream(n) {
  for (let i = 0; i < n; i++) yield i
}
const file = join(dir, 'f')
writeFileSync(file, 'x')
const cases = {
  'empty task': [200_000, async () => {}],
  'a stat each': [50_000, async () => void (await stat(file))]
}
const limiters = { 'p-limit': ours.forEachConcurrent, 'hand-written': handWritten }
for (const [name, [n, work]] of Object.entries(cases)) {
  const times = { 'p-limit': [], 'hand-written': [] }
  for (let round = 0; round < 6; round++)
    for (const [limiter, run] of Object.entries(limiters)) {
      const start = performance.now()
      await run(stream(n), 4, work)
      if (round > 0) times[limiter].push(((performance.now() - start) * 1000) / n)
    }
  const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const line = Object.entries(times).map(([limiter, xs]) => `${limiter} ${median(xs).toFixed(2)} µs`)
  console.log(`${name} (${n.toLocaleString('en')} at 4 at a time, per task, median of 5): ${line.join(', ')}`)
}
