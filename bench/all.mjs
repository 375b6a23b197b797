// npm run bench: every bench in turn, then the summary of every target (bench/summary.mjs). Each starts once the
// CPUs are quiet, a guard against what the bench before it may leave running (a Ceph or Kubo shutting down,
// writeback): a 1-minute load average cannot tell, since it still counts the bench before (2026-12-06, one quiet
// machine: every wait was 4 s; bench/RESULTS-full-run.md). Prints how long each bench and each wait took; stops at
// the first bench that fails, as `a && b` would.
//   node bench/all.mjs [--only NAME,NAME]   (NAME as the file: run, http, …; the summary runs in any case)
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

const BENCHES = [
  'run',
  'http',
  'variants',
  'scale',
  'jobs-rerun',
  'replication',
  'ipfs',
  'replication-cli',
  'fsync-off',
  'watch'
]
const here = new URL('.', import.meta.url).pathname
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : BENCHES
const unknown = only.filter(name => !BENCHES.includes(name))
if (unknown.length > 0) {
  console.error(`--only ${unknown.join(',')}: each name is one of ${BENCHES.join(', ')}`)
  process.exit(2)
}

/** The machine's CPU time so far, busy and all, in clock ticks (/proc/stat: user nice system idle iowait …). */
function cpuTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)
  const ticks = fields.map(Number)
  const all = ticks.reduce((a, b) => a + b, 0)
  return { busy: all - ticks[3] - ticks[4], all }
}

/** Waits until two 2-second windows in a row keep the CPUs under 15% busy, or 2 minutes pass. Seconds waited. */
async function settle() {
  const start = performance.now()
  let quiet = 0
  for (let before = cpuTicks(); quiet < 2 && performance.now() - start < 120_000; ) {
    await sleep(2000)
    const now = cpuTicks()
    quiet = (now.busy - before.busy) / (now.all - before.all) < 0.15 ? quiet + 1 : 0
    before = now
  }
  return Math.round((performance.now() - start) / 1000)
}

const times = []
for (const name of [...BENCHES.filter(name => only.includes(name)), 'summary']) {
  const waited = name === 'summary' ? 0 : await settle()
  const start = performance.now()
  console.log(`\n== bench/${name}.mjs (after ${waited} s of waiting for a quiet machine)`)
  const { status, signal } = spawnSync(process.execPath, [`${here}${name}.mjs`], { stdio: 'inherit' })
  times.push({ name, waited, seconds: Math.round((performance.now() - start) / 1000) })
  if (status !== 0) {
    const rest = BENCHES.slice(BENCHES.indexOf(name)).filter(next => only.includes(next))
    console.error(
      `bench/${name}.mjs failed (${signal ?? `exit ${status}`}); go on with: node bench/all.mjs --only ${rest}`
    )
    process.exit(status ?? 1)
  }
}
console.log(`\n${times.map(t => `${t.name} ${t.seconds} s (waited ${t.waited} s)`).join('; ')}`)
