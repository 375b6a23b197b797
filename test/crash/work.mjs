// The workload's process: `node work.mjs <workload> <mount> <package dir>`. Each acknowledgement is a
// lookup of `.crashfs-ack-<label>` in the mount, which crashfs records in order with the changes
// before it answers: the ack is in the log before the workload goes on.
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { recover } from './harness.mjs'
import { loadLib } from './lib.mjs'
import { workloads } from './workloads.mjs'

// `--recover <workload> <mount> <package dir> <acks.json> [<uncut.json> <result.json>]`: the workload's recovery and
// checks, run on the mount so that the recovery itself can be cut (harness.mjs); with the uncut run's end state, the
// violations found (and whether the end state was compared) written to result.json, outside the mount
if (process.argv[2] === '--recover') {
  const [name, mnt, pkg, acks, uncut, result] = process.argv.slice(3)
  const lib = await loadLib(pkg)
  const acked = JSON.parse(readFileSync(acks, 'utf8'))
  if (result === undefined) await workloads[name].check(mnt, acked, lib)
  else
    writeFileSync(result, JSON.stringify(await recover(name, mnt, acked, lib, JSON.parse(readFileSync(uncut, 'utf8')))))
  process.exit(0)
}
const [name, mnt, pkg] = process.argv.slice(2)
process.env.CRASH_PACKAGE = pkg // for a workload's other processes
const lib = await loadLib(pkg)
const ack = (kind, sha = undefined, at = undefined) => {
  const label = [kind, sha, at].filter(part => part !== undefined).join('.')
  try {
    statSync(join(mnt, `.crashfs-ack-${label}`))
  } catch (err) {
    if (err.code !== 'ENOENT') throw err
  }
}
await workloads[name].run(mnt, lib, ack)
