// npm run bench (scale part): whole-store commands over stores of 100,000 and 1,000,000 objects in
// storage.py's layout (tiny JPEG-magic files, last stored over 400 days), each against the same
// I/O done by the standard tools, in one run, alternating: GNU find statting every file (the walk)
// and `find | xargs -P2 sha256sum` (the re-hash). Whole processes, timed and measured (peak RSS) by
// /usr/bin/time. Writes bench/RESULTS-scale.md and bench/results-scale.json.
//   node bench/scale.mjs [--quick] [--sizes 100000,1000000] [--runs 3] [--only 'prune --dry-run (budget)']
// --only runs the one command (and its baseline) and writes nothing: the figures are in its output.
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { keptHistory } from './lib.mjs'

const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback)
const quick = process.argv.includes('--quick')
const SIZES = arg('--sizes', quick ? '10000,100000' : '100000,1000000')
  .split(',')
  .map(Number)
const RUNS = Number(arg('--runs', quick ? '1' : '3'))
const ONLY = arg('--only', undefined)
const here = new URL('.', import.meta.url).pathname
const CLI = join(here, '../dist/cli.js')
const base = join(process.env.BENCH_DIR ?? tmpdir(), 'sai-bench-scale')
const DAY = 86_400_000
const log = (...args) => console.log(...args)
const results = {
  date: new Date().toISOString(),
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version
  },
  runs: RUNS,
  sizes: {},
  targets: []
}
const target = (name, value, limit, note = '') => {
  const met = value <= limit
  results.targets.push({ name, value, limit: `<= ${limit}`, met, note })
  log(`  target ${met ? 'MET ' : 'MISS'} ${name}: ${value} (<= ${limit}) ${note}`)
}

/** A store of `count` objects (kept between runs of the bench: building a million takes a minute). */
function store(count) {
  const root = join(base, String(count))
  if (existsSync(join(root, '.complete'))) return root
  log(`building a store of ${count} objects in ${root}`)
  const head = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1])
  const made = new Set()
  const expected = []
  for (let i = 0; i < count; i++) {
    const body = Buffer.concat([head, Buffer.from(String(i))])
    const hash = createHash('sha256').update(body).digest('hex')
    const dir = join(root, hash.slice(0, 2), hash.slice(2, 4))
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true })
      made.add(dir)
    }
    const path = join(dir, `${hash}.jpg`)
    writeFileSync(path, body)
    expected.push(hash)
    const when = (Date.now() - ((i * 7919) % 400) * DAY) / 1000
    utimesSync(path, when, when)
  }
  writeFileSync(expectedFile(root), `${expected.join('\n')}\n`)
  writeFileSync(join(root, '.complete'), '')
  return root
}

/** The dashboard's list of the store's frames, one SHA-256 a line (for `verify --expect-file`), outside the store. */
function expectedFile(root) {
  return `${root}.expected`
}

/** A store built by an earlier version of this bench has no expected list yet: made from its listing. */
function ensureExpected(root) {
  if (existsSync(expectedFile(root))) return
  execFileSync('sh', ['-c', `find ${root} -name '*.jpg' -printf '%f\\n' | sed 's/\\.jpg$//' > ${expectedFile(root)}`])
}

/** Wall seconds and peak RSS (MB) of one run of `command`, output thrown away. */
function measure(command) {
  const run = spawnSync('/usr/bin/time', ['-f', '%e %M', 'sh', '-c', `${command} > /dev/null`], {
    encoding: 'utf8',
    maxBuffer: 2 ** 26
  })
  const [seconds, kb] = run.stderr.trim().split('\n').pop().split(' ').map(Number)
  if (run.status !== 0 && run.status !== 1) throw new Error(`${command} failed (${run.status}): ${run.stderr}`)
  return { seconds, rssMB: Math.round(kb / 1024) }
}

const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

function commands(root) {
  const node = CLI // as `sai-images` runs: by its #! line (with its V8 flags)
  const list =
    `${process.execPath} --input-type=module -e "import { FilesystemDriver } from ` +
    `'${join(here, '../dist/drivers/fs.js')}'; let n = 0; for await (const e of new FilesystemDriver({ root: ` +
    `'${root}' }).list()) n++; console.log(n)"`
  return {
    walk: {
      baseline: `find ${root} -type f -printf '%s %T@\\n'`,
      ours: {
        stats: `${node} stats --root ${root} --json`,
        'prune --dry-run (age)': `${node} prune --older-than 200d --dry-run --json --root ${root}`,
        'prune --dry-run (budget)': `${node} prune --max-bytes 1M --dry-run --json --root ${root}`,
        'list()': list,
        'variants --dry-run (lookups)': `${node} variants thumb --dry-run --json --root ${root}`
      }
    },
    rehash: {
      baseline: `sh -c "find ${root} -type f -print0 | xargs -0 -P2 sha256sum"`,
      ours: {
        verify: `${node} verify --root ${root} --json`,
        // every frame the dashboard records looked for as well: one listing, 8 bytes a frame. Measured, not judged
        // (no target of its own: bench/RESULTS-scale.md, 2026-12-06)
        'verify --expect-file': `${node} verify --root ${root} --json --expect-file ${expectedFile(root)}`
      }
    }
  }
}

const TARGETS = {
  stats: 2,
  'prune --dry-run (age)': 1.5,
  'prune --dry-run (budget)': 1.5,
  'list()': 1.2,
  'variants --dry-run (lookups)': 1.5,
  verify: 1.2
}

try {
  for (const size of SIZES) {
    const root = store(size)
    ensureExpected(root)
    execFileSync('sync')
    const figures = {}
    for (const [kind, { baseline, ours }] of Object.entries(commands(root))) {
      const chosen = Object.entries(ours).filter(([name]) => ONLY === undefined || name === ONLY)
      if (chosen.length === 0) continue
      measure(baseline) // the page cache warm for both sides
      for (const [name, command] of chosen) {
        const pairs = []
        for (let run = 0; run < RUNS; run++) {
          const [a, b] =
            run % 2 === 0 ? [measure(command), measure(baseline)] : [measure(baseline), measure(command)].reverse()
          pairs.push({ ours: a, baseline: b, ratio: a.seconds / b.seconds })
        }
        figures[name] = {
          kind,
          seconds: median(pairs.map(p => p.ours.seconds)),
          baselineSeconds: median(pairs.map(p => p.baseline.seconds)),
          ratio: +median(pairs.map(p => p.ratio)).toFixed(3),
          rssMB: Math.max(...pairs.map(p => p.ours.rssMB))
        }
        log(`${size} ${name}: ${JSON.stringify(figures[name])}`)
      }
    }
    results.sizes[size] = figures
  }
  const [small, large] = SIZES
  for (const [name, limit] of Object.entries(TARGETS)) {
    const at = results.sizes[large]?.[name]
    if (at === undefined) continue
    target(
      `${name} at ${large} / ${at.kind === 'walk' ? 'the find walk' : 'find | xargs -P2 sha256sum'}`,
      at.ratio,
      limit,
      `${at.seconds} s vs ${at.baselineSeconds} s`
    )
    target(`${name}: peak RSS at ${large} (MB)`, at.rssMB, 150)
    const before = results.sizes[small]?.[name]
    if (before !== undefined) {
      target(`${name}: peak RSS growth from ${small} to ${large} (MB)`, at.rssMB - before.rssMB, 30)
      target(
        `${name}: time at ${large} / time at ${small}`,
        +(at.seconds / before.seconds).toFixed(2),
        (11 * large) / small / 10
      )
    }
  }
} finally {
  if (process.argv.includes('--clean')) await rm(base, { recursive: true, force: true })
}
if (ONLY !== undefined) {
  log(
    `\n--only: ${results.targets.filter(t => t.met).length} of ${results.targets.length} targets met; nothing written`
  )
  process.exit(0)
}
const file = quick ? 'results-scale-quick' : 'results-scale'
const last = JSON.parse(await readFile(join(here, `${file}.json`), 'utf8').catch(() => '{}'))
results.history = [
  ...(last.history ?? []),
  ...(last.date === undefined ? [] : [{ date: last.date, targets: last.targets }])
].slice(-10)
await writeFile(join(here, `${file}.json`), JSON.stringify(results, null, 2) + '\n')
const rows = Object.entries(results.sizes).flatMap(([size, figures]) =>
  Object.entries(figures).map(
    ([name, f]) => `| ${size} | ${name} | ${f.seconds} | ${f.baselineSeconds} | ${f.ratio} | ${f.rssMB} |`
  )
)
const targetRow = t => `| ${t.name} | ${t.value} | ${t.limit} | ${t.met ? 'yes' : '**no**'} | ${t.note} |`
await writeFile(
  join(here, quick ? 'RESULTS-scale-quick.md' : 'RESULTS-scale.md'),
  `# Whole-store commands at scale

${results.date}, ${results.machine.cpu} (${results.machine.cores} cores, ${results.machine.memoryGB} GB),
Node ${results.machine.node}; medians of ${RUNS} paired runs, page cache warm. The walk baseline is
\`find -type f -printf '%s %T@'\`; the re-hash baseline \`find | xargs -0 -P2 sha256sum\`.

| objects | command | seconds | baseline seconds | × baseline | peak RSS MB |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

| target | value | limit | met | note |
| --- | --- | --- | --- | --- |
${results.targets.map(targetRow).join('\n')}
${keptHistory(join(here, quick ? 'RESULTS-scale-quick.md' : 'RESULTS-scale.md'))}`
)
log(`\n${results.targets.filter(t => t.met).length} of ${results.targets.length} targets met`)
