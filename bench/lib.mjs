// Timing helpers. Every ratio compares figures taken side by side in the same run: candidates are
// measured in interleaved rounds (a, b, a, b, ...) and each keeps its median round, so a noisy
// neighbour slows both alike.
import { readFileSync } from 'node:fs'
import { testJpeg } from '../dist/testing.js'

export const KB = 1024
export const MB = 1024 * 1024

/** Runs `op(i, worker)` from `concurrency` workers for about `seconds`; ops per second and latency. */
export async function run(op, { concurrency = 1, seconds = 0.5, minOps = 10, maxOps = 100_000 } = {}) {
  let next = 0
  const latencies = []
  const started = performance.now()
  const deadline = started + seconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < maxOps && (performance.now() < deadline || next < minOps)) {
        const i = next++
        const t = performance.now()
        await op(i, worker)
        latencies.push(performance.now() - t)
      }
    })
  )
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return {
    ops: latencies.length,
    opsPerSec: latencies.length / elapsed,
    meanMs: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    p50Ms: latencies[Math.floor(latencies.length / 2)],
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]
  }
}

/**
 * Measures each candidate in `rounds` interleaved rounds; each keeps its median round by ops/s. The order rotates
 * every round (a, b, c; b, c, a; ...): no candidate always follows the same one (and meets its writeback).
 * `options.beforeEach()` runs before every candidate's turn (e.g. a `sync`).
 */
export async function compare(candidates, options = {}, rounds = 3) {
  return Object.fromEntries(
    Object.entries(await compareRounds(candidates, options, rounds)).map(([name, list]) => [name, medianRound(list)])
  )
}

/** The median of rounds by ops/s. */
export const medianRound = list => [...list].sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor(list.length / 2)]

/** `compare`'s rounds, every one kept in order (`{ name: [round, ...] }`): for `pairedRatio`. */
export async function compareRounds(candidates, options = {}, rounds = 3) {
  const results = Object.fromEntries(Object.keys(candidates).map(name => [name, []]))
  const entries = Object.entries(candidates)
  for (let round = 0; round < rounds; round++) {
    const shift = round % entries.length
    for (const [name, op] of [...entries.slice(shift), ...entries.slice(0, shift)]) {
      options.beforeEach?.()
      results[name].push(await run(op, options))
    }
  }
  return results
}

/**
 * Ops/s of `a` over `b`, the median of the rounds' own ratios: each round runs both within seconds, so a
 * change of the machine's load between rounds cancels (a ratio of two median rounds compares rounds run at
 * different times).
 */
export function pairedRatio(a, b) {
  const ratios = a.map((round, i) => round.opsPerSec / b[i].opsPerSec).sort((x, y) => x - y)
  return ratio(ratios[Math.floor(ratios.length / 2)], 1)
}

/**
 * Payloads of one size: `count` buffers of random bytes behind a valid JPEG header, one per worker.
 * `fresh(worker)` writes a counter into the first comment segment of that worker's buffer, so every
 * call gives bytes never stored before.
 */
export function payloads(size, count, seed = 'bench') {
  const buffers = Array.from({ length: count }, (_, i) => testJpeg(`${seed} ${size} ${i}`, size))
  let counter = 0
  return {
    size,
    buffers,
    fresh(worker) {
      const buffer = buffers[worker]
      buffer.writeBigUInt64BE(BigInt(++counter) + (BigInt(process.pid) << 40n), 6)
      return buffer
    }
  }
}

export const ratio = (a, b) => Math.round((a / b) * 1000) / 1000

/**
 * What a RESULTS page holds from its first `## Earlier runs` heading on (written by hand): a bench that
 * regenerates the page puts it back after the tables it writes, so the history is not lost.
 */
export function keptHistory(path) {
  let text = ''
  try {
    text = readFileSync(path, 'utf8')
  } catch {}
  const at = text.search(/^## Earlier runs/m)
  return at === -1 ? '' : `\n${text.slice(at)}`
}
