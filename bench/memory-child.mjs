// One memory measurement in a fresh process:
//   node memory-child.mjs store <root> <megabytes>        stores a stream of that size
//   node memory-child.mjs fetch <root> <megabytes> <hash> streams it back
// Prints the RSS once everything is loaded (baseline), the process's peak RSS, and the growth.
import { readFileSync } from 'node:fs'
import { FilesystemDriver } from '../dist/drivers/fs.js'
import { testJpeg } from '../dist/testing.js'

const [mode, root, megabytes, hash] = process.argv.slice(2)
const size = Number(megabytes) * 1024 * 1024
const storage = new FilesystemDriver({ root, maxBytes: size + 1, fsync: false })
const head = testJpeg('memory', 1024 * 1024)
const body = Buffer.alloc(1024 * 1024, 7)

async function* stream() {
  yield head
  for (let sent = head.length; sent < size; sent += body.length) yield body
}

// warm up the same code paths on a small input, so the baseline holds what any call loads
for await (const _ of await storage.fetchStream((await storage.store(testJpeg('warm', 4096))).hash));
const baseline = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024

let result
if (mode === 'store') result = await storage.store(stream())
else for await (const _ of await storage.fetchStream(hash));

// VmHWM is this address space's peak; getrusage's maxRSS is not (Linux carries it over from the
// parent across fork and exec, so a child of a big process starts with the parent's peak)
const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
const mb = bytes => Math.round(bytes / 1024 / 1024)
console.log(
  JSON.stringify({
    mode,
    megabytes: Number(megabytes),
    hash: result?.hash ?? hash,
    baselineMB: mb(baseline),
    peakMB: mb(peak),
    growthMB: mb(peak - baseline)
  })
)
