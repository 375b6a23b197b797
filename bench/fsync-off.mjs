// npm run bench (fsync-off store): the filesystem driver's store with fsync off against the plain
// write loop (SHA-256, mkdir -p the shard folders, temp file, rename; what any store without fsync
// must do), in an empty store and in a warm one (every shard folder already there). Five runs; in
// each, both regimes, the two candidates alternating which goes first, 600 KB frames, sequential
// and 8 at once. The target holds only if every run's ratio holds.
// Writes bench/RESULTS-fsync-off.md and bench/results-fsync-off.json.
//   node bench/fsync-off.mjs [--quick] [--cpu-prof-ours]
import { execFileSync } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { FilesystemDriver } from '../dist/drivers/fs.js'
import { KB, payloads, ratio } from './lib.mjs'

const quick = process.argv.includes('--quick')
const RUNS = quick ? 2 : 5
const FRAMES = quick ? 150 : 400
const here = new URL('.', import.meta.url).pathname
const log = (...args) => console.log(...args)
const results = {
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version
  },
  date: new Date().toISOString(),
  runs: [],
  targets: []
}
const scratch = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'sai-bench-nofsync-'))
const sha256 = bytes => createHash('sha256').update(bytes).digest('hex')
const hex = n => n.toString(16).padStart(2, '0')

async function plainLoop(root, bytes) {
  const name = sha256(bytes)
  const dir = join(root, name.slice(0, 2), name.slice(2, 4))
  await mkdir(dir, { recursive: true })
  const temp = join(dir, `${randomUUID()}.tmp`)
  const handle = await open(temp, 'wx')
  await handle.writeFile(bytes)
  await handle.close()
  await rename(temp, join(dir, `${name}.jpg`))
}

async function timed(concurrency, store) {
  const data = payloads(600 * KB, concurrency, `nofsync ${concurrency}`)
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (next++ < FRAMES) await store(data.fresh(w))
    })
  )
  return FRAMES / ((performance.now() - started) / 1000)
}

for (let run = 0; run < RUNS; run++) {
  const row = {}
  for (const regime of ['empty', 'warm']) {
    for (const concurrency of [1, 8]) {
      const base = await mkdtemp(join(scratch, 'run-'))
      const roots = { ours: join(base, 'ours'), plain: join(base, 'plain') }
      for (const root of Object.values(roots)) {
        mkdirSync(root)
        if (regime === 'warm')
          for (let a = 0; a < 256; a++)
            for (let b = 0; b < 256; b++) mkdirSync(join(root, hex(a), hex(b)), { recursive: true })
      }
      const storage = new FilesystemDriver({ root: roots.ours, fsync: false })
      const rates = {}
      const order = (run + concurrency) % 2 === 0 ? ['ours', 'plain'] : ['plain', 'ours']
      for (const name of order) {
        execFileSync('sync') // no writeback of the other's files left over
        rates[name] = await timed(
          concurrency,
          name === 'ours'
            ? async bytes => await storage.store(bytes)
            : async bytes => await plainLoop(roots.plain, bytes)
        )
      }
      await storage.close()
      await rm(base, { recursive: true, force: true })
      row[`${regime} c${concurrency}`] = {
        ours: Math.round(rates.ours),
        plain: Math.round(rates.plain),
        ratio: ratio(rates.ours, rates.plain)
      }
    }
  }
  results.runs.push(row)
  log(
    `run ${run + 1}: ${Object.entries(row)
      .map(([k, v]) => `${k} ${v.ratio} (${v.ours} vs ${v.plain}/s)`)
      .join('; ')}`
  )
}
await rm(scratch, { recursive: true, force: true })
for (const key of Object.keys(results.runs[0])) {
  const ratios = results.runs.map(r => r[key].ratio)
  const met = Math.min(...ratios) >= 0.9
  results.targets.push({
    name: `fsync-off store / plain write loop (600 KB, ${key} store), every run`,
    value: Math.min(...ratios),
    limit: '>= 0.9',
    met,
    note: `runs ${ratios.join(', ')}`
  })
  log(
    `  target ${met ? 'MET ' : 'MISS'} fsync-off store / plain loop (${key}), lowest of ${ratios.length} runs: ` +
      `${Math.min(...ratios)} (runs ${ratios.join(', ')})`
  )
}
if (!quick) {
  await writeFile(join(here, 'results-fsync-off.json'), JSON.stringify(results, null, 2) + '\n')
  const targetRow = t => `| ${t.name} | ${t.value} | ${t.limit} | ${t.met ? 'yes' : '**no**'} | ${t.note} |`
  await writeFile(
    join(here, 'RESULTS-fsync-off.md'),
    `# Store without fsync against the plain write loop

${results.date}, ${results.machine.cpu} (${results.machine.cores} cores, ${results.machine.memoryGB} GB),
Node ${results.machine.node}. \`node bench/fsync-off.mjs\`.

Method: ${FRAMES} new frames of 600 KB per measurement; the plain loop is SHA-256, \`mkdir -p\` of the two
shard folders, a temp file written, renamed into place. Empty: a new root; warm: all 65,536 shard folders
made first. A \`sync\` before each candidate; the order alternates. Frames per second, ${RUNS} runs.

| run | ${Object.keys(results.runs[0]).join(' | ')} |
| --- | ${Object.keys(results.runs[0])
      .map(() => '---')
      .join(' | ')} |
${results.runs
  .map(
    (r, i) =>
      `| ${i + 1} | ${Object.values(r)
        .map(v => `${v.ratio} (${v.ours} / ${v.plain})`)
        .join(' | ')} |`
  )
  .join('\n')}

| target | value | limit | met | note |
| --- | --- | --- | --- | --- |
${results.targets.map(targetRow).join('\n')}
`
  )
}
