// npm run bench (replication as an operator runs it): `sai-images replicate` draining a backlog of
// real camera frames of mixed sizes (bench/frames.mjs) to a Ceph RADOS Gateway, against `rclone copy
// --transfers 4` of the same tree to the same gateway. Both timed as whole commands, from the start
// of the process to its exit; 400 and 2,000 frames; three rounds alternating which goes first; best
// and median reported. `sai-images migrate --from fs --to s3` of the same kind of tree too. Uses
// the shared test gateway when SAI_TEST_S3_* are set, else starts one.
// Writes bench/RESULTS-replication-cli.md and bench/results-replication-cli.json.
//   node bench/replication-cli.mjs [--quick] [--frames 400,2000] [--rounds 3] [--baseline DIST]
// --baseline DIST: also `replicate` with DIST/cli.js (another build, kept aside) in every round, interleaved: an
// A/B of two builds against the same gateway and trees (its times are logged, and kept in the JSON).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { FilesystemDriver } from '../dist/drivers/fs.js'
import { S3Driver } from '../dist/drivers/s3.js'
import { createReplicatedStorage } from '../dist/replication.js'
import { frames } from './frames.mjs'
import { ratio } from './lib.mjs'

const quick = process.argv.includes('--quick')
const COUNTS = process.argv.includes('--frames')
  ? process.argv[process.argv.indexOf('--frames') + 1].split(',').map(Number)
  : quick
    ? [400]
    : [400, 2000]
const option = name => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined)
const ROUNDS = Number(option('--rounds') ?? 3)
const BASELINE = option('--baseline')
const here = new URL('.', import.meta.url).pathname
const CLI = join(here, '../dist/cli.js')
// the V8 flags of the CLI's shebang (`#!/usr/bin/env -S node --max-semi-space-size=2 ...`): run as `sai-images` runs
const NODE_FLAGS = readFileSync(CLI, 'utf8')
  .split('\n', 1)[0]
  .split(' ')
  .filter(word => word.startsWith('--'))
const log = (...args) => console.log(...args)
const results = {
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' })),
    uname: execFileSync('uname', ['-srm'], { encoding: 'utf8' }).trim(),
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version
  },
  date: new Date().toISOString(),
  loadStart: loadavg(),
  sections: {},
  targets: []
}
const target = (name, value, limit, direction, note = '') => {
  const met = direction === '>=' ? value >= limit : value <= limit
  results.targets.push({ name, value, limit: `${direction} ${limit}`, met, note })
  log(`  target ${met ? 'MET ' : 'MISS'} ${name}: ${value} (${direction} ${limit}) ${note}`)
}
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
if (!existsSync('/usr/bin/rclone')) {
  log('skipped: needs rclone (apt-get install rclone)')
  process.exit(0)
}

let cluster
let connection
if (process.env.SAI_TEST_S3_ENDPOINT !== undefined) {
  connection = {
    endpoint: process.env.SAI_TEST_S3_ENDPOINT,
    region: process.env.SAI_TEST_S3_REGION ?? 'us-east-1',
    accessKeyId: process.env.SAI_TEST_S3_ACCESS_KEY_ID,
    secretAccessKey: process.env.SAI_TEST_S3_SECRET_ACCESS_KEY ?? process.env.SAI_TEST_S3_SECRET
  }
} else {
  const { startCeph } = await import('../test/infra/ceph/cluster.mjs')
  // 8 GiB: six uploads of 2,000 frames filled 4 GiB while the gateway's garbage collection lagged behind the deletes
  // (the run of 2026-12-05 stalled there: "1 full osd(s)"); empty() also runs that collection.
  cluster = await startCeph({ memstoreBytes: 8 * 2 ** 30 })
  connection = cluster.connection
}
const { endpoint, region, accessKeyId, secretAccessKey } = connection
const Bucket = `bench-cli-${process.pid}`
const sdk = await import('@aws-sdk/client-s3')
const raw = new sdk.S3Client({ endpoint, region, credentials: { accessKeyId, secretAccessKey }, forcePathStyle: true })
await raw.send(new sdk.CreateBucketCommand({ Bucket }))
const scratch = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'sai-bench-repl-cli-'))

// a gateway whose OSD is full accepts a request and never answers it: fail, do not wait for ever (session 21: with
// --rounds 5 the one-node memstore OSD's full failsafe engaged, reporting itself -2147483648% full, and a delete hung)
const send = async command => await raw.send(command, { abortSignal: AbortSignal.timeout(120_000) })

async function empty(prefix) {
  for (let page; (page = await send(new sdk.ListObjectsV2Command({ Bucket, Prefix: prefix }))).KeyCount > 0; ) {
    await send(new sdk.DeleteObjectsCommand({ Bucket, Delete: { Objects: page.Contents.map(({ Key }) => ({ Key })) } }))
  }
  // The deleted objects' space comes back only once the gateway's garbage collection has run (a local cluster only).
  if (cluster !== undefined) {
    const args = ['-c', cluster.connection.conf, '-n', 'client.rgw', 'gc', 'process', '--include-all']
    execFileSync('radosgw-admin', args, { stdio: 'ignore', timeout: 120_000 })
  }
}

/** A store of `count` frames whose outbox holds them all, as after an outage of the replica. */
async function backlog(count, prefix) {
  const root = await mkdtemp(join(scratch, 'store-'))
  const primary = new FilesystemDriver({ root, fsync: false })
  for (const frame of await frames(count, `cli ${count}`)) await primary.store(frame)
  const replica = new S3Driver({
    endpoint,
    region,
    credentials: { accessKeyId, secretAccessKey },
    bucket: Bucket,
    prefix,
    forcePathStyle: true
  })
  const storage = createReplicatedStorage({ primary, replicas: [{ name: 's3', storage: replica }], background: false })
  await storage.reconcile() // queued, not copied
  if (storage.status().replicas[0].pending !== count) throw new Error(`expected ${count} pending`)
  await storage.close?.()
  return root
}

function timed(command, args, env) {
  const started = performance.now()
  const run = spawnSync(command, args, { env, encoding: 'utf8', timeout: 600_000 })
  const seconds = (performance.now() - started) / 1000
  if (run.status !== 0) throw new Error(`${command} ${args[0]} exited ${run.status}: ${run.stderr}${run.stdout}`)
  return seconds
}

const ours = async (count, prefix, cli = CLI) => {
  const root = await backlog(count, prefix)
  const env = {
    ...process.env,
    SAI_IMAGE_STORAGE_PATH: root,
    SAI_IMAGE_STORAGE_REPLICAS: 's3',
    SAI_S3_ENDPOINT: endpoint,
    SAI_S3_REGION: region,
    SAI_S3_BUCKET: Bucket,
    SAI_S3_PREFIX: prefix,
    SAI_S3_FORCE_PATH_STYLE: 'true',
    SAI_S3_ACCESS_KEY_ID: accessKeyId,
    SAI_S3_SECRET_ACCESS_KEY: secretAccessKey
  }
  execFileSync('sync')
  return timed(process.execPath, [...NODE_FLAGS, cli, 'replicate'], env)
}
const baseline = async (count, prefix) => await ours(count, prefix, join(BASELINE, 'cli.js'))
const migrate = async (count, prefix) => {
  const root = await backlog(count, `unused-${prefix}`)
  const env = {
    ...process.env,
    SAI_IMAGE_STORAGE_PATH: root,
    SAI_S3_ENDPOINT: endpoint,
    SAI_S3_REGION: region,
    SAI_S3_BUCKET: Bucket,
    SAI_S3_PREFIX: prefix,
    SAI_S3_FORCE_PATH_STYLE: 'true',
    SAI_S3_ACCESS_KEY_ID: accessKeyId,
    SAI_S3_SECRET_ACCESS_KEY: secretAccessKey
  }
  execFileSync('sync')
  return timed(
    process.execPath,
    [...NODE_FLAGS, CLI, 'migrate', '--from', 'fs', '--to', 's3', '--mapping', `${root}.migrate.jsonl`],
    env
  )
}
const rclone = async (count, prefix) => {
  const root = await backlog(count, `unused-${prefix}`) // the same kind of tree, made the same way
  const { AWS_CA_BUNDLE, ...inherited } = process.env
  const env = {
    ...inherited,
    RCLONE_CONFIG_CEPH_TYPE: 's3',
    RCLONE_CONFIG_CEPH_PROVIDER: 'Ceph',
    RCLONE_CONFIG_CEPH_ENDPOINT: endpoint,
    RCLONE_CONFIG_CEPH_ACCESS_KEY_ID: accessKeyId,
    RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY: secretAccessKey,
    RCLONE_CONFIG_CEPH_REGION: region
  }
  execFileSync('sync')
  return timed(
    'rclone',
    ['copy', root, `ceph:${Bucket}/${prefix}`, '--exclude', '/.*/**', '--transfers', '4', '--checkers', '8'],
    env
  )
}

try {
  for (const count of COUNTS) {
    const times = { ours: [], rclone: [], migrate: [], ...(BASELINE === undefined ? {} : { baseline: [] }) }
    for (let round = 0; round < ROUNDS; round++) {
      const candidates = [
        ['ours', ours],
        ['rclone', rclone],
        ['migrate', migrate],
        ...(BASELINE === undefined ? [] : [['baseline', baseline]])
      ]
      for (const [name, run] of round % 2 === 0 ? candidates : candidates.reverse()) {
        const prefix = `${name}-${count}-${round}/`
        times[name].push(await run(count, prefix))
        log(`  ${count} frames, round ${round + 1}, ${name}: ${times[name].at(-1).toFixed(2)} s`)
        await empty(prefix)
        await empty(`unused-${prefix}`)
      }
    }
    const best = list => Math.min(...list)
    const median = list => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]
    results.sections[count] = {
      seconds: Object.fromEntries(Object.entries(times).map(([k, list]) => [k, list.map(s => +s.toFixed(2))]))
    }
    if (BASELINE !== undefined)
      log(
        `  ${count} frames, baseline ${BASELINE}: best ${best(times.baseline).toFixed(2)}, median ` +
          `${median(times.baseline).toFixed(2)} s; ours ${best(times.ours).toFixed(2)}, ${median(times.ours).toFixed(2)} s`
      )
    const note =
      `ours ${times.ours.map(s => s.toFixed(2)).join(', ')} s; rclone ` +
      `${times.rclone.map(s => s.toFixed(2)).join(', ')} s`
    target(
      `sai-images replicate of ${count} real frames, speed / rclone copy --transfers 4, best rounds`,
      ratio(best(times.rclone), best(times.ours)),
      1,
      '>=',
      note
    )
    target(
      `sai-images replicate of ${count} real frames, speed / rclone copy --transfers 4, median rounds`,
      ratio(median(times.rclone), median(times.ours)),
      1,
      '>='
    )
    target(
      `sai-images migrate --from fs --to s3 of ${count} real frames, speed / rclone copy, best rounds`,
      ratio(best(times.rclone), best(times.migrate)),
      1,
      '>=',
      `migrate ${times.migrate.map(s => s.toFixed(2)).join(', ')} s`
    )
    target(
      `sai-images migrate --from fs --to s3 of ${count} real frames, speed / rclone copy, median rounds`,
      ratio(median(times.rclone), median(times.migrate)),
      1,
      '>='
    )
  }
} finally {
  await empty('')
  await raw.send(new sdk.DeleteBucketCommand({ Bucket })).catch(() => {})
  raw.destroy()
  await cluster?.stop()
  await rm(scratch, { recursive: true, force: true })
}
if (!quick) {
  const rcloneVersion = execFileSync('rclone', ['version'], { encoding: 'utf8' }).split('\n')[0]
  const loadEnd = loadavg()
    .map(v => v.toFixed(2))
    .join(' ')
  await writeFile(join(here, 'results-replication-cli.json'), JSON.stringify(results, null, 2) + '\n')
  const targetRow = t => `| ${t.name} | ${t.value} | ${t.limit} | ${t.met ? 'yes' : '**no**'} | ${t.note} |`
  // the hand-written sections below the table (before and after, profiles) are kept from the page as it was
  const page = join(here, 'RESULTS-replication-cli.md')
  const before = existsSync(page) ? await readFile(page, 'utf8') : ''
  const history = before.includes('\n## ') ? before.slice(before.indexOf('\n## ')) : ''
  await writeFile(
    page,
    `# Replication as an operator runs it

${results.date}, ${results.machine.cpu} (nproc ${results.machine.nproc}, ${results.machine.memoryGB} GB),
${results.machine.uname}, Node ${results.machine.node}, ${rcloneVersion}, a one-node Ceph RGW on the same
machine; load ${results.loadStart.map(v => v.toFixed(2)).join(' ')} at the start, ${loadEnd} at the end.

Method: a filesystem store of N real camera frames of mixed sizes (bench/frames.mjs: 27 JPEGs of 4-530 KB,
mean 161 KB, each copy made distinct by a comment segment), its outbox holding every frame (as after an outage
of the replica). Timed from the start of the process to its exit: \`sai-images replicate\` (drain, then
reconcile: what an operator runs; as \`sai-images\` runs, with its shebang's V8 flags
\`${NODE_FLAGS.join(' ')}\`) against \`rclone copy <root> ceph:bucket/prefix --transfers 4 --checkers 8\`.
A \`sync\` before each. Three rounds, alternating which goes first. A ratio above 1 means ours is faster.

| target | value | limit | met | note |
| --- | --- | --- | --- | --- |
${results.targets.map(targetRow).join('\n')}
${history}`
  )
}
