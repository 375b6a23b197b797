// Probe for the watcher's mechanism (docs/replication.md): the cost of an inotify watch (fs.watch) per
// shard folder in Node, against a stat of every folder, on N leaf folders (65,536: the depth-2 layout).
//   node bench/watch-probe.mjs [--folders 65536]
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, watch, writeFileSync } from 'node:fs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const arg = (name, fallback) =>
  process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : fallback
const N = Number(arg('folders', '65536'))
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024
const cpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
const root = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'sai-watch-probe-'))
const hex = i => i.toString(16).padStart(4, '0')
const folders = []
for (let i = 0; i < N; i++) {
  const d = join(root, hex(i).slice(0, 2), hex(i).slice(2, 4))
  mkdirSync(d, { recursive: true })
  folders.push(d)
}
globalThis.gc?.()
await sleep(500)
const out = { folders: N, node: process.version }

// a stat pass, 5 times
for (let round = 0; round < 5; round++) {
  const c = cpu()
  const t = performance.now()
  for (const f of folders) statSync(f, { throwIfNoEntry: false })
  out[`statPass${round}`] = { wallMs: +(performance.now() - t).toFixed(1), cpuMs: +(cpu() - c).toFixed(1) }
}
globalThis.gc?.()
await sleep(500)
out.rssBeforeWatchesMB = +rss().toFixed(1)
const c = cpu()
let t = performance.now()
const events = []
const watchers = folders.map(f => watch(f, { persistent: true }, (type, name) => events.push([f, type, name])))
out.watchSetup = { wallMs: +(performance.now() - t).toFixed(0), cpuMs: +(cpu() - c).toFixed(0) }
globalThis.gc?.()
await sleep(1000)
out.rssWithWatchesMB = +rss().toFixed(1)
out.perWatchKB = +(((out.rssWithWatchesMB - out.rssBeforeWatchesMB) * 1024) / N).toFixed(2)
const c0 = cpu()
await sleep(10_000)
out.idleCpuWithWatchesPercent = +((cpu() - c0) / 100).toFixed(3)
// a frame written beside and renamed into place (storage.py's way), into a few folders
t = Date.now()
for (const i of [0, 7, N - 1]) {
  writeFileSync(join(folders[i], 'x.tmp'), 'x')
  renameSync(join(folders[i], 'x.tmp'), join(folders[i], 'x.jpg'))
}
await sleep(500)
out.renameEvents = events.filter(([, , name]) => name === 'x.jpg').length
out.events = events.length
for (const w of watchers) w.close()
rmSync(root, { recursive: true, force: true })
console.log(JSON.stringify(out, null, 2))
