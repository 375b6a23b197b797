// The workload's process: `node work.mjs <workload> <mount> <package dir>`. Each acknowledgement is a
// lookup of `.crashfs-ack-<label>` in the mount, which crashfs records in order with the changes
// before it answers: the ack is in the log before the workload goes on.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { loadLib } from './lib.mjs'
import { workloads } from './workloads.mjs'

const [name, mnt, pkg] = process.argv.slice(2)
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
