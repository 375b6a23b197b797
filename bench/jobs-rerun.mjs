// A rerun that finds nothing new, against a listing of both sides, at sizes 10x apart: `migrate`
// fs -> fs (the source store and the target store), or with --import an `import` of a folder tree
// into a store (the tree's walk and the store's listing).
// Usage: node bench/jobs-rerun.mjs [--import] [N...]   (after npm run build)
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FilesystemDriver } from '../dist/drivers/fs.js'
import { importTree, migrate } from '../dist/jobs.js'

const args = process.argv.slice(2)
const job = args.includes('--import') ? 'import' : 'migrate'

async function run(n) {
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
  const [source, target] = [new FilesystemDriver({ root: from }), new FilesystemDriver({ root: to })]
  const time = async work => {
    const t = process.hrtime.bigint()
    await work()
    return Number(process.hrtime.bigint() - t) / 1e6
  }
  const count = async storage => {
    let c = 0
    for await (const _ of storage.list()) c++
    return c
  }
  const walk = async () => (await readdir(from, { recursive: true, withFileTypes: true })).filter(e => e.isFile())
  const rounds = []
  for (let r = 0; r < 3; r++) {
    const listing = await time(async () => {
      await (job === 'import' ? walk() : count(source))
      await count(target)
    })
    let summary
    const rerun = await time(async () => {
      summary =
        job === 'import' ? await importTree(target, from, { mapping }) : await migrate(source, target, { mapping })
    })
    if (summary.done !== 0 || summary.skipped !== n) throw new Error(`rerun copied ${summary.done}`)
    rounds.push({ listing, rerun })
  }
  const best = key => Math.min(...rounds.map(r => r[key]))
  const rss = process.memoryUsage().rss
  console.log(
    JSON.stringify({
      job,
      n,
      listingBothMs: Math.round(best('listing')),
      rerunMs: Math.round(best('rerun')),
      ratio: +(best('rerun') / best('listing')).toFixed(2),
      rssMB: Math.round(rss / 2 ** 20)
    })
  )
  rmSync(base, { recursive: true, force: true })
}

const sizes = args.filter(a => a !== '--import').map(Number)
for (const n of sizes.length > 0 ? sizes : [10_000, 100_000]) await run(n)
