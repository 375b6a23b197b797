// A rerun that finds nothing new, against a listing of both sides, at sizes 10x apart: `migrate`
// fs -> fs (the source store and the target store), or with --import an `import` of a folder tree
// into a store (the tree's walk and the store's listing). Each listing and each rerun runs in a
// child process of its own, timed inside it, with its own peak RSS (VmHWM) and heap after a GC:
// what the rerun holds, not the making of the trees. `--before <dist>`: an older build's rerun in the
// same rounds (the order rotating), for a before/after.
// `--keep`: the trees and the mapping are left in place (their folder printed), to profile a child on them.
// Without sizes or --import (as `npm run bench` runs it): both jobs at 10,000 and 100,000 items, written to
// bench/results-jobs.json and the top of bench/RESULTS-jobs.md; with them, a probe that prints JSON lines.
// Usage: node bench/jobs-rerun.mjs [--import] [--before <dist>] [--rounds R] [--keep] [N...]   (after npm run build)
import { execFileSync } from 'node:child_process'
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { readdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { keptHistory } from './lib.mjs'

const args = process.argv.slice(2)
const option = name => {
  const at = args.indexOf(name)
  return at < 0 ? undefined : args.splice(at, 2)[1]
}

if (args[0] === '--child') {
  const [, what, dist, job, from, to, mapping, n] = args
  const { FilesystemDriver } = await import(pathToFileURL(join(dist, 'drivers/fs.js')).href)
  const { importTree, migrate } = await import(pathToFileURL(join(dist, 'jobs.js')).href)
  const [source, target] = [new FilesystemDriver({ root: from }), new FilesystemDriver({ root: to })]
  const count = async storage => {
    let c = 0
    for await (const _ of storage.list()) c++
    return c
  }
  const t = process.hrtime.bigint()
  if (what === 'listing') {
    if (job === 'import') await readdir(from, { recursive: true, withFileTypes: true })
    else await count(source)
    await count(target)
  } else {
    const summary =
      job === 'import' ? await importTree(target, from, { mapping }) : await migrate(source, target, { mapping })
    if (summary.done !== 0 || summary.skipped !== Number(n)) throw new Error(`rerun copied ${summary.done}`)
  }
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  global.gc()
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
  console.log(JSON.stringify({ ms, peakRss: hwm, heap: process.memoryUsage().heapUsed }))
  process.exit(0)
}

const before = option('--before')
const rounds = Number(option('--rounds') ?? 3)
const here = resolve(import.meta.dirname, '../dist')
const MB = bytes => Math.round(bytes / 2 ** 20)

function child(what, dist, job, paths, n) {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', import.meta.filename, '--child', what, dist, job, ...paths, String(n)],
    { encoding: 'utf8', maxBuffer: 1 << 20 }
  )
  return JSON.parse(out.trim().split('\n').pop())
}

async function run(job, n) {
  const base = mkdtempSync(join(tmpdir(), 'sai-bench-jobs-'))
  const [from, to, mapping] = [join(base, 'from'), join(base, 'to'), join(base, 'm.jsonl')]
  let lines = ''
  for (let i = 0; i < n; i++) {
    const hash = randomBytes(32).toString('hex')
    const key = `${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}.jpg`
    // import: the dashboard's original/{p}/{id}.jpg, a thousand files a folder
    const source = job === 'import' ? `${Math.floor(i / 1000)}/${i}.jpg` : key
    for (const [root, name] of [
      [from, source],
      [to, key]
    ]) {
      mkdirSync(join(root, name, '..'), { recursive: true })
      writeFileSync(join(root, name), 'x') // the listing reads names and sizes, never bytes
    }
    const record = { sha256: hash, source: job === 'import' ? source : hash, hash, path: join(to, key), key, size: 1 }
    lines += JSON.stringify(record) + '\n'
    if (lines.length > 1 << 20) {
      appendFileSync(mapping, lines)
      lines = ''
    }
  }
  appendFileSync(mapping, lines)
  const paths = [from, to, mapping]
  const candidates = [['listing', here], ['rerun', here], ...(before === undefined ? [] : [['before', before]])]
  const results = Object.fromEntries(candidates.map(([name]) => [name, []]))
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < candidates.length; k++) {
      const [name, dist] = candidates[(r + k) % candidates.length]
      results[name].push(child(name === 'listing' ? 'listing' : 'rerun', dist, job, paths, n))
    }
  }
  const best = name => results[name].reduce((a, b) => (a.ms <= b.ms ? a : b))
  const listing = best('listing')
  const row = name => {
    const { ms, peakRss, heap } = best(name)
    return { ms: Math.round(ms), ratio: +(ms / listing.ms).toFixed(2), peakRssMB: MB(peakRss), heapMB: MB(heap) }
  }
  const report = {
    job,
    n,
    listingBothMs: Math.round(listing.ms),
    listingPeakRssMB: MB(listing.peakRss),
    rerun: row('rerun')
  }
  if (before !== undefined) report.before = row('before')
  console.log(JSON.stringify(report))
  if (args.includes('--keep')) console.log(`kept: ${base} (child: --child rerun <dist> ${job} ${paths.join(' ')} ${n})`)
  else rmSync(base, { recursive: true, force: true })
  return report
}

const sizes = args.filter(a => !a.startsWith('--')).map(Number)
if (sizes.length > 0 || args.includes('--import')) {
  // a probe: the JSON lines only
  for (const n of sizes.length > 0 ? sizes : [10_000, 100_000])
    await run(args.includes('--import') ? 'import' : 'migrate', n)
} else {
  // as `npm run bench` runs it: both jobs at two sizes ten times apart, the results and the page written
  const results = { machine: machine(), date: new Date().toISOString(), loadStart: loadavg(), runs: [], targets: [] }
  for (const job of ['migrate', 'import']) for (const n of [10_000, 100_000]) results.runs.push(await run(job, n))
  results.loadEnd = loadavg()
  for (const r of results.runs.filter(r => r.n === 100_000)) {
    const name = `${r.job} rerun that finds nothing new / a listing of both sides (${r.n.toLocaleString('en')} items)`
    results.targets.push({ name, value: r.rerun.ratio, limit: '<= 1.5', met: r.rerun.ratio <= 1.5 })
  }
  await writeFile(join(import.meta.dirname, 'results-jobs.json'), `${JSON.stringify(results, null, 2)}\n`)
  const page = join(import.meta.dirname, 'RESULTS-jobs.md')
  const load = l => l.map(v => v.toFixed(2)).join(' ')
  const { machine: m } = results
  await writeFile(
    page,
    `# Incremental jobs: a rerun that finds nothing new (bench/jobs-rerun.mjs)

${results.date}, ${m.cpu} (nproc ${m.nproc}), ${m.memoryGB} GB, ${m.uname}, Node ${m.node}, ${m.filesystem}; load
${load(results.loadStart)} at the start, ${load(results.loadEnd)} at the end.
A \`migrate\` fs -> fs whose mapping records every object already, against a listing of both stores (the floor of
any scheme that compares the two sides), and an \`import\` of a \`{p}/{id}.jpg\` tree (1000 files a folder, as the
dashboard's \`original/\`) whose mapping records every file, against a walk of the tree and a listing of the store.
Each listing and each rerun runs in a child process, timed inside it (process start and module load aside), with
its peak RSS (\`VmHWM\`); the best of 3 rounds, the order rotating. The objects are written directly at their keys
(the rerun reads no object's bytes). Target: the rerun within 1.5x the listing.

| job | items | listing of both sides | its peak RSS | rerun | ratio | rerun's peak RSS |
| --- | ----: | --------------------: | -----------: | ----: | ----: | ---------------: |
${results.runs
  .map(
    r =>
      `| ${r.job} | ${r.n.toLocaleString('en')} | ${r.listingBothMs} ms | ${r.listingPeakRssMB} MB | ${r.rerun.ms} ms | ` +
      `${r.rerun.ratio} | ${r.rerun.peakRssMB} MB |`
  )
  .join('\n')}

${results.targets.map(t => `- ${t.met ? 'MET' : 'MISSED'}: ${t.name} = ${t.value} (${t.limit})`).join('\n')}
${keptHistory(page)}`
  )
  console.log(
    `bench/RESULTS-jobs.md: ${results.targets.filter(t => t.met).length} of ${results.targets.length} targets met`
  )
}

function machine() {
  return {
    cpu: cpus()[0]?.model,
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' })),
    uname: execFileSync('uname', ['-srm'], { encoding: 'utf8' }).trim(),
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    filesystem: execFileSync('df', ['-T', tmpdir()], { encoding: 'utf8' }).split('\n')[1].split(/\s+/)[1]
  }
}
