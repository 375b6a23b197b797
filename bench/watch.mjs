// npm run bench (watch section): the watcher of `replicate --watch` on a store of N objects.
// - idle: CPU and RSS of the running service over a quiet minute (no writer);
// - latency: 1,000 frames written by another process (a plain write + rename into the layout, as
//   storage.py does) at 20 per second; from each rename to the verified copy on an fs replica.
// The store is N small files named as frames (their bytes are not the frames': nothing reads them
// while idle), with the replica's ledger holding a `listed` record for each, as after a reconcile.
// Writes bench/RESULTS-watch.md and bench/results-watch.json.
// Each size is measured with each configuration of the service (--configs name:args;...): by default
// the default service (one inotifywait child watching the layout, if installed) and the stat passes
// alone (--watch-folders 0: what the service does without inotifywait), one after the other on the
// same store. An argument `@path/cli.js` runs another build's CLI (an A/B: `main:@.before/dist/cli.js`).
// CPU and RSS are the service's plus its children's (the inotifywait child). With BENCH_DIR set, the
// store is kept there (sai-bench-watch-N) and used again by the next run; the frames a run writes are
// removed after it.
//   node bench/watch.mjs [--sizes 100000,1000000] [--idle-seconds 60] [--frames 1000]
//     [--configs 'default:;stat passes:--watch-folders 0']
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { keptHistory } from './lib.mjs'

const arg = (name, fallback) =>
  process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : fallback
const SIZES = arg('sizes', '100000,1000000').split(',').map(Number)
const IDLE_SECONDS = Number(arg('idle-seconds', '60'))
const FRAMES = Number(arg('frames', '1000'))
const here = new URL('.', import.meta.url).pathname
const CLI = join(here, '..', 'dist', 'cli.js')
const CONFIGS = arg('configs', 'default:;stat passes:--watch-folders 0')
  .split(';')
  .map(c => {
    const words = c
      .slice(c.indexOf(':') + 1)
      .split(' ')
      .filter(Boolean)
    const cli = words.find(w => w.startsWith('@'))?.slice(1)
    return { name: c.split(':')[0], cli: cli ?? CLI, args: words.filter(w => !w.startsWith('@')) }
  })
/** Whether inotifywait is installed (the default service then watches the layout with it). */
const INOTIFYWAIT = spawnSync('inotifywait', ['--help']).error === undefined
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))

/** N files named as frames in the depth-2 layout, and a replica ledger that lists each (Python: fast). */
function build(root, n) {
  execFileSync(
    'python3',
    [
      '-c',
      `
import os, sys, hashlib
root, n = sys.argv[1], int(sys.argv[2])
import time
ledger = {}
os.makedirs(os.path.join(root, '.replication', 'ledger', 'fs'), exist_ok=True)
for i in range(n):
    h = hashlib.sha256(b'%d' % i).hexdigest()
    d = os.path.join(root, h[0:2], h[2:4])
    try:
        fd = os.open(os.path.join(d, h + '.jpg'), os.O_CREAT | os.O_WRONLY, 0o644)
    except FileNotFoundError:
        os.makedirs(d, exist_ok=True)
        fd = os.open(os.path.join(d, h + '.jpg'), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b'x')
    os.close(fd)
    ledger.setdefault(h[0:2], []).append(h)
now = int(time.time() * 1000)  # listed by a reconcile after the files were written
for shard, hashes in ledger.items():
    lines = ''.join('%s %d listed\\n' % (h, now) for h in hashes)
    open(os.path.join(root, '.replication', 'ledger', 'fs', shard + '.log'), 'w').write(lines)
`,
      root,
      String(n)
    ],
    { stdio: 'inherit' }
  )
}

/** The process and its descendants (the inotifywait child, under a shell): pids. */
const family = pid => {
  const parents = new Map()
  for (const p of readdirSync('/proc').filter(p => /^\d+$/.test(p))) {
    try {
      parents.set(Number(p), Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]))
    } catch {} // ended meanwhile
  }
  const below = parent => [...parents].filter(([, pp]) => pp === parent).flatMap(([p]) => [p, ...below(p)])
  return [pid, ...below(pid)]
}
const cpuOf = pid => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / TICK
  } catch {
    return 0 // ended
  }
}
const rssOf = pid => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024
  } catch {
    return 0
  }
}
/** CPU seconds of the service and of `pids` (its children, counted once found). */
const cpuSeconds = pids => pids.reduce((sum, p) => sum + cpuOf(p), 0)
const rssMB = pids => pids.reduce((sum, p) => sum + rssOf(p), 0)
const quantile = (values, q) => {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

async function measure(n) {
  const kept = process.env.BENCH_DIR === undefined ? undefined : join(process.env.BENCH_DIR, `sai-bench-watch-${n}`)
  const base = kept ?? (await mkdtemp(join(tmpdir(), 'sai-bench-watch-')))
  const root = join(base, 'primary')
  const replica = join(base, 'replica')
  const t = performance.now()
  if (!existsSync(join(base, 'built'))) {
    await rm(base, { recursive: true, force: true })
    build(root, n)
    await writeFile(join(base, 'built'), `${n}\n`)
  }
  const buildSeconds = (performance.now() - t) / 1000
  const ledger = join(root, '.replication', 'ledger')
  // the ledger as built, restored after each run (the run's copies add records)
  if (!existsSync(`${ledger}.built`)) execFileSync('cp', ['-a', ledger, `${ledger}.built`])
  const runs = []
  for (const config of CONFIGS) {
    console.log(`  ${config.name}…`)
    await rm(replica, { recursive: true, force: true })
    await mkdir(replica, { recursive: true })
    await rm(join(root, '.replication', 'outbox'), { recursive: true, force: true })
    await sleep(3000) // the last folders' ctimes are no longer within a pass's racy window
    // as if a watcher ran before: the first pass does not list the whole store (a reconcile would)
    const now = new Date().toISOString()
    const health = { pid: 0, at: now, everyMs: 5000, caughtUpTo: now, folders: 0, queued: 0 }
    await writeFile(join(root, '.replication', 'watch.json'), JSON.stringify(health))
    const { result, written } = await serve(root, replica, config)
    runs.push({ objects: n, config: config.name, buildSeconds: +buildSeconds.toFixed(1), ...result })
    console.log(runs.at(-1))
    for (const h of written) await rm(join(root, h.slice(0, 2), h.slice(2, 4), `${h}.jpg`), { force: true })
    await rm(ledger, { recursive: true, force: true })
    execFileSync('cp', ['-a', `${ledger}.built`, ledger])
  }
  await rm(kept === undefined ? base : replica, { recursive: true, force: true })
  return runs
}

/** The service run with `config` on the store at `root`: idle, then frames written by another process. */
async function serve(root, replica, config) {
  const env = {
    ...process.env,
    SAI_IMAGE_STORAGE_PATH: root,
    SAI_IMAGE_STORAGE_REPLICAS: 'fs',
    SAI_IMAGE_STORAGE_REPLICA_PATH: replica,
    NODE_OPTIONS: `--import ${join(here, 'watch-memory.mjs')}`,
    BENCH_WATCH_MEMORY: join(root, '..', 'memory.json')
  }
  const service = spawn(process.execPath, [config.cli, 'replicate', '--watch', '--no-reconcile', ...config.args], {
    env,
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const healthFile = join(root, '.replication', 'watch.json')
  const health = () => JSON.parse(readFileSync(healthFile, 'utf8'))
  const startedAt = Date.now()
  while (health().pid !== service.pid) await sleep(200) // its first pass ended
  const firstPassSeconds = (Date.now() - startedAt) / 1000
  // a child watching the layout sets up its watches (7 s at 1M objects), then a full pass follows
  const child = config.cli === CLI && !config.args.includes('--watch-folders') && INOTIFYWAIT
  for (let waited = 0; child && waited < 60 && health().mechanism !== 'inotifywait'; waited++) await sleep(500)
  const readySeconds = (Date.now() - startedAt) / 1000
  const { mechanism = 'stat', watched = 0 } = health()
  await sleep(6000) // settled
  const pids = family(service.pid)
  const cpu0 = cpuSeconds(pids)
  let t = performance.now()
  let rss = 0
  let serviceRss = 0
  for (let s = 0; s < IDLE_SECONDS; s++) {
    await sleep(1000)
    rss = Math.max(rss, rssMB(pids))
    serviceRss = Math.max(serviceRss, rssOf(service.pid))
  }
  const idleCpuPercent = (100 * (cpuSeconds(pids) - cpu0)) / ((performance.now() - t) / 1000)
  const memory = JSON.parse(readFileSync(env.BENCH_WATCH_MEMORY, 'utf8'))

  // another process writes FRAMES frames at 20/s: write beside, rename into place
  const writer = spawn(
    process.execPath,
    [
      '-e',
      `
const { mkdirSync, writeFileSync, renameSync } = require('node:fs')
const { createHash, randomBytes } = require('node:crypto')
const root = process.argv[1]; let i = 0
const timer = setInterval(() => {
  const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(3000), Buffer.from([0xff, 0xd9])])
  const h = createHash('sha256').update(bytes).digest('hex'); const d = root + '/' + h.slice(0, 2) + '/' + h.slice(2, 4)
  mkdirSync(d, { recursive: true })
  writeFileSync(d + '/' + h + '.tmp', bytes)
  renameSync(d + '/' + h + '.tmp', d + '/' + h + '.jpg')
  console.log(h + ' ' + Date.now())
  if (++i === Number(process.argv[2])) clearInterval(timer)
}, 50)`,
      root,
      String(FRAMES)
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  )
  const written = new Map()
  const arrived = new Map()
  let buffer = ''
  writer.stdout.on('data', data => {
    buffer += data.toString()
    const lines = buffer.split('\n')
    buffer = lines.pop()
    for (const line of lines) {
      const [h, at] = line.split(' ')
      written.set(h, Number(at))
    }
  })
  const writerDone = new Promise(resolve => writer.on('close', resolve))
  let writing = true
  void writerDone.then(() => {
    writing = false
  })
  const activeCpu0 = cpuSeconds(pids)
  t = performance.now()
  let activeRss = 0
  for (let deadline = Infinity; arrived.size < FRAMES && Date.now() < deadline; ) {
    if (!writing && deadline === Infinity) deadline = Date.now() + 60_000
    for (const [h] of written)
      if (!arrived.has(h) && existsSync(join(replica, h.slice(0, 2), h.slice(2, 4), `${h}.jpg`)))
        arrived.set(h, Date.now())
    activeRss = Math.max(activeRss, rssMB(pids))
    await sleep(100)
  }
  const activeCpuPercent = (100 * (cpuSeconds(pids) - activeCpu0)) / ((performance.now() - t) / 1000)
  service.kill('SIGTERM')
  const code = await new Promise(resolve => service.on('close', resolve))
  const latencies = [...arrived].map(([h, at]) => (at - written.get(h)) / 1000)
  const result = {
    mechanism,
    watched,
    firstPassSeconds,
    readySeconds,
    idleSeconds: IDLE_SECONDS,
    idleCpuPercent: +idleCpuPercent.toFixed(2),
    idleRssMB: +rss.toFixed(0),
    idleServiceRssMB: +serviceRss.toFixed(0),
    memory,
    frames: FRAMES,
    copied: arrived.size,
    missed: FRAMES - arrived.size,
    p50Seconds: +quantile(latencies, 0.5).toFixed(2),
    p99Seconds: +quantile(latencies, 0.99).toFixed(2),
    maxSeconds: +Math.max(...latencies).toFixed(2),
    activeCpuPercent: +activeCpuPercent.toFixed(1),
    activeRssMB: +activeRss.toFixed(0),
    sigtermExit: code
  }
  return { result, written: [...written.keys()] }
}

const machine = {
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  nproc: Number(execFileSync('nproc', { encoding: 'utf8' })),
  uname: execFileSync('uname', ['-srm'], { encoding: 'utf8' }).trim(),
  memoryGB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  filesystem: execFileSync('df', ['-T', process.env.BENCH_DIR ?? tmpdir()], { encoding: 'utf8' })
    .split('\n')[1]
    .split(/\s+/)[1]
}
const results = { machine, date: new Date().toISOString(), loadStart: loadavg(), runs: [], targets: [] }
for (const n of SIZES) {
  console.log(`store of ${n} objects…`)
  results.runs.push(...(await measure(n)))
}
results.loadEnd = loadavg()
const target = (name, value, limit, direction) => {
  const met = direction === '>=' ? value >= limit : value <= limit
  results.targets.push({ name, value, limit: `${direction} ${limit}`, met })
  console.log(`  target ${met ? 'MET ' : 'MISS'} ${name}: ${value} (${direction} ${limit})`)
}
const largest = results.runs.find(r => r.objects === SIZES.at(-1) && r.config === CONFIGS[0].name)
const at = `${largest.objects.toLocaleString('en')} objects`
target(`watch: p99 from a foreign rename to a verified replica copy, ${at} (s)`, largest.p99Seconds, 10, '<=')
target(`watch: frames missed of ${largest.frames}, ${at}`, largest.missed, 0, '<=')
target(`watch: idle CPU, % of one core, ${at}`, largest.idleCpuPercent, 2, '<=')
target(`watch: idle RSS, ${at} (MB)`, largest.idleRssMB, 100, '<=')
const load = l => l.map(v => v.toFixed(2)).join(' ')
const last = JSON.parse(readFileSync(join(here, 'results-watch.json'), 'utf8'))
const summary = r => ({ date: r.date, targets: r.targets, ...(r.note === undefined ? {} : { note: r.note }) })
results.note = arg('note', undefined)
results.history = [...(last.history ?? []), ...(last.date === undefined ? [] : [summary(last)])].slice(-10)
await writeFile(join(here, 'results-watch.json'), JSON.stringify(results, null, 2) + '\n')
const history = results.history.map(
  h => `- ${h.date}: ${h.targets.map(t => `${t.met ? 'met' : 'MISSED'} ${t.name} = ${t.value}`).join('; ')}`
)
const rows = results.runs.map(
  r =>
    `| ${[
      r.objects.toLocaleString('en'),
      r.config,
      r.mechanism ?? 'stat',
      r.watched.toLocaleString('en'),
      `${r.idleCpuPercent} %`,
      `${r.idleRssMB} MB`,
      `${r.idleServiceRssMB ?? r.idleRssMB} MB`,
      r.memory === undefined ? '' : `${r.memory.heapUsed}/${r.memory.heapTotal}/${r.memory.external} MB`,
      `${r.p50Seconds} s`,
      `${r.p99Seconds} s`,
      `${r.maxSeconds} s`,
      `${r.copied}/${r.frames}`,
      `${r.activeCpuPercent} %`,
      `${r.activeRssMB} MB`,
      `${r.firstPassSeconds} s`,
      `${r.readySeconds ?? r.firstPassSeconds} s`
    ].join(' | ')} |`
)
await writeFile(
  join(here, 'RESULTS-watch.md'),
  `# The watcher of \`replicate --watch\` (bench/watch.mjs)

${results.date}, ${machine.cpu} (nproc ${machine.nproc}, shared with other work), ${machine.memoryGB} GB,
${machine.uname}, Node ${machine.node}, ${machine.filesystem}; load ${load(results.loadStart)} at the start,
${load(results.loadEnd)} at the end.
A store of N objects (depth-2 layout, 65,536 shard folders at 1M), an fs replica; the service run
as \`sai-images replicate --watch --no-reconcile\` with each configuration's arguments (defaults: --watch-every 5s,
one inotifywait child watching the layout if installed, a full pass every 60 s; \`--watch-folders 0\`: stat passes
only, what the service does without inotifywait), one after the other on the same store. Idle: ${IDLE_SECONDS} s with
no writer, from 6 s after the watcher is ready (its first pass, and the child's watches set up). CPU and RSS are
the service's plus its children's (the inotifywait child); "service RSS" is Node's alone, and "heap" Node's
heapUsed/heapTotal/external (process.memoryUsage(), bench/watch-memory.mjs). Latency: ${FRAMES} frames written by
another process at 20 per second (written beside, renamed into place), from the rename to the verified copy on
the replica (polled every 100 ms); RSS writing: its peak. Targets: idle <= 2 % of one core and <= 100 MB RSS;
p99 <= 10 s.${results.note === undefined ? '' : `\n\n${results.note}`}

| objects | service | mechanism | watches | idle CPU | idle RSS | service RSS | heap | p50 | p99 | max | copied \
| CPU writing | RSS writing | 1st pass | ready |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

${results.targets.map(t => `- ${t.met ? 'MET' : 'MISSED'}: ${t.name} = ${t.value} (${t.limit})`).join('\n')}

## History (earlier runs' targets)

${history.join('\n')}
${keptHistory(join(here, 'RESULTS-watch.md'))}`
)
