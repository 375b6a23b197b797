// The built package under test: `pkg` is a folder with the package's dist/ (the repo, or a broken copy).
// Its entry points merged into one object (`lib.testing` apart), whether the package exports its
// rooms from the root or from subpaths (./drivers/fs, ./replication, ./retention, ./jobs, ./variants).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const ENTRIES = ['.', './drivers/fs', './replication', './retention', './jobs', './variants']

export async function loadLib(pkg) {
  const { exports } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'))
  const file = entry => exports[entry]?.import?.default ?? exports[entry]?.import ?? exports[entry]?.default
  const lib = {}
  for (const entry of ENTRIES)
    if (file(entry) !== undefined) Object.assign(lib, await import(pathToFileURL(join(pkg, file(entry))).href))
  lib.testing = await import(pathToFileURL(join(pkg, file('./testing'))).href)
  lib.packageDir = pkg // for a workload that runs the CLI
  return lib
}
