// npm run crash -- [--seed S] [--states N] [--live ROUNDS] [--workload NAME ...] [--package DIR]
// Records each workload through crashfs and checks N crash states (default 300), shared among the
// workloads; prints each violation with the seed that rebuilds its state, and exits 1 if any.
import { parseArgs } from 'node:util'
import { describe, liveCuts, run } from './harness.mjs'
import { workloads } from './workloads.mjs'

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    states: { type: 'string', default: '300' },
    workload: { type: 'string', multiple: true },
    package: { type: 'string' },
    live: { type: 'string', default: '0' }
  }
})
const seed = Number(values.seed)
const names = values.workload ?? Object.keys(workloads).filter(name => !workloads[name].hidden)
for (const name of names)
  if (workloads[name] === undefined) throw new Error(`no workload ${name}: ${Object.keys(workloads).join(', ')}`)
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
