// A migrate rerun that finds nothing new, against a listing of both sides, at sizes 10x apart.
// Usage: node bench/jobs-rerun.mjs [N...]   (after npm run build)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FilesystemDriver } from '../dist/drivers/fs.js'
import { migrate } from '../dist/jobs.js'

async function run(n) {
  const base = mkdtempSync(join(tmpdir(), 'sai-bench-jobs-'))
  const [from, to, mapping] = [join(base, 'from'), join(base, 'to'), join(base, 'm.jsonl')]
  let lines = ''
  for (let i = 0; i < n; i++) {
    const hash = randomBytes(32).toString('hex')
    const key = `${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}.jpg`
    for (const root of [from, to]) {
      mkdirSync(join(root, key, '..'), { recursive: true })
      writeFileSync(join(root, key), 'x') // the listing reads names and sizes, never bytes
    }
    lines += JSON.stringify({ sha256: hash, source: hash, hash, path: join(to, key), key, size: 1 }) + '\n'
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
  const rounds = []
  for (let r = 0; r < 3; r++) {
    const listing = await time(async () => {
      await count(source)
      await count(target)
    })
    let summary
    const rerun = await time(async () => {
      summary = await migrate(source, target, { mapping })
    })
    if (summary.done !== 0 || summary.skipped !== n) throw new Error(`rerun copied ${summary.done}`)
    rounds.push({ listing, rerun })
  }
  const best = key => Math.min(...rounds.map(r => r[key]))
  const rss = process.memoryUsage().rss
  console.log(
    JSON.stringify({
      n,
      listingBothMs: Math.round(best('listing')),
      rerunMs: Math.round(best('rerun')),
      ratio: +(best('rerun') / best('listing')).toFixed(2),
      rssMB: Math.round(rss / 2 ** 20)
    })
  )
  rmSync(base, { recursive: true, force: true })
}

for (const n of process.argv.slice(2).map(Number).length > 0 ? process.argv.slice(2).map(Number) : [10_000, 100_000])
  await run(n)
