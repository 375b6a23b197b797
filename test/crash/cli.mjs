// npm run crash -- [--seed S] [--states N] [--live ROUNDS] [--workload NAME ...] [--package DIR]
// Records each workload through crashfs and checks N crash states (default 300), shared among the
// workloads; prints each violation with the seed that rebuilds its state, and exits 1 if any.
import { parseArgs } from 'node:util'
import { describe, liveCuts, run } from './harness.mjs'
import { workloads } from './workloads.mjs'

const usage = `npm run crash -- [--seed S] [--states N] [--live ROUNDS] [--workload NAME ...] [--package DIR]
  --seed S          rebuilds the same crash states (default: from the clock, printed)
  --states N        crash states checked, shared among the workloads (default 300)
  --live ROUNDS     also SIGKILL each workload mid-run ROUNDS times through a live crashfs
  --workload NAME   only these workloads (repeatable; default all): ${Object.keys(workloads)
    .filter(name => !workloads[name].hidden)
    .join(', ')}
  --package DIR     the package to test (default: this checkout's dist)
`
const { values } = (() => {
  try {
    return parseArgs({
      options: {
        help: { type: 'boolean', short: 'h' },
        seed: { type: 'string', default: String(Date.now() % 100_000) },
        states: { type: 'string', default: '300' },
        workload: { type: 'string', multiple: true },
        package: { type: 'string' },
        live: { type: 'string', default: '0' }
      }
    })
  } catch (err) {
    fail(err.message)
  }
})()
if (values.help) {
  process.stdout.write(usage)
  process.exit(0)
}
const seed = Number(values.seed)
const names = values.workload ?? Object.keys(workloads).filter(name => !workloads[name].hidden)
for (const name of names) if (workloads[name] === undefined) fail(`no workload ${name}`)
for (const option of ['seed', 'states', 'live'])
  if (!/^\d+$/.test(values[option])) fail(`--${option} takes a whole number, not ${values[option]}`)
const started = Date.now()
process.stderr.write(`crash: seed ${seed}, ${values.states} states over ${names.join(', ')}\n`)
const results = await run({
  names,
  seed,
  states: Number(values.states),
  pkg: values.package,
  log: line => process.stderr.write(line)
})
const live =
  Number(values.live) > 0
    ? await liveCuts({ names, seed, rounds: Number(values.live), pkg: values.package })
    : { checked: 0, violations: [] }
if (live.checked > 0)
  process.stderr.write(
    `live cuts: ${live.checked} states (${live.ended} end states compared), ${live.violations.length} violations\n`
  )
const violations = [...results.flatMap(r => r.violations), ...live.violations]
for (const v of violations) console.log(describe(v))
const states = results.reduce((sum, r) => sum + r.checked, 0) + live.checked
console.log(
  `${states} crash states in ${Math.round((Date.now() - started) / 1000)} s, ${violations.length} violations (seed ${seed})`
)
process.exitCode = violations.length === 0 ? 0 : 1

/** A bad argument: the reason and the usage, exit 2 (no stack). */
function fail(reason) {
  process.stderr.write(`crash: ${reason}\n${usage}`)
  process.exit(2)
}
