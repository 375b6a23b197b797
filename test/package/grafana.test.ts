// examples/grafana: the alert rules checked and unit-tested by Debian's promtool, the scrape config
// checked, and every metric the dashboard, the rules and docs/observability.md name is one the real
// `replicate --watch --metrics-port` exports (and every series it exports is documented).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../infra/helpers/consumer.js'
import { ensurePrometheus, PROMTOOL } from '../infra/helpers/prometheus.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { freePort, waitFor } from '../infra/setup/services.js'

const DIR = join(ROOT, 'examples/grafana')
const promtool = (...args: string[]): { status: number | null; output: string } => {
  const run = spawnSync(PROMTOOL, args, { cwd: DIR, encoding: 'utf8' })
  return { status: run.status, output: run.stdout + run.stderr }
}
/** The metric names an expression or a text names: ours, the process' and Node's, and `up`. */
const namesIn = (text: string): string[] => [
  ...new Set([...text.matchAll(/\b(sai_image_storage_\w+|process_\w+|nodejs_\w+)\b/g)].map(m => m[1]!))
]

/** The names of every series the real service exports (a histogram's _bucket, _sum and _count too). */
let exported: Set<string>
/** One scrape of it, as Prometheus reads it. */
let scrape: string
let service: ChildProcess | undefined
afterAll(async () => {
  if (service === undefined || service.exitCode !== null) return
  const exit = new Promise(resolve => service!.once('exit', resolve))
  service.kill('SIGTERM')
  await exit
})
beforeAll(async () => {
  ensurePrometheus()
  const port = await freePort()
  const env = {
    ...process.env,
    SAI_IMAGE_STORAGE_PATH: await tempDir(),
    SAI_IMAGE_STORAGE_REPLICAS: 'fs',
    SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir()
  }
  service = spawn(
    process.execPath,
    [join(ROOT, 'dist/cli.js'), 'replicate', '--watch', '--metrics-port', String(port)],
    { env, stdio: 'ignore' }
  )
  let text = ''
  await waitFor('replicate --watch --metrics-port', async () =>
    (text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).includes('lost_frames')
  )
  scrape = text
  exported = new Set()
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exported.add(name!)
    if (type === 'histogram' || type === 'summary')
      for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name! + suffix)
  }
}, 60_000)

describe('examples/grafana', () => {
  it('promtool: the rules are valid, their unit tests pass, the scrape config is valid', async () => {
    expect(promtool('check', 'rules', 'sai-images-rules.yml')).toMatchObject({
      status: 0,
      output: expect.stringContaining('SUCCESS: 7 rules found')
    })
    expect(promtool('test', 'rules', 'sai-images-rules.test.yml')).toMatchObject({
      status: 0,
      output: expect.stringContaining('SUCCESS')
    })
    expect(promtool('check', 'config', 'prometheus.yml')).toMatchObject({ status: 0 })
    // the rules' tests can fail: against a backlog rule an hour late, they do
    const rules = readFileSync(join(DIR, 'sai-images-rules.yml'), 'utf8')
    const late = rules.replace('> 3600', '> 7200')
    expect(late).not.toBe(rules)
    const dir = await tempDir()
    copyFileSync(join(DIR, 'sai-images-rules.test.yml'), join(dir, 'sai-images-rules.test.yml'))
    writeFileSync(join(dir, 'sai-images-rules.yml'), late)
    const run = spawnSync(PROMTOOL, ['test', 'rules', 'sai-images-rules.test.yml'], { cwd: dir, encoding: 'utf8' })
    expect(run.status).toBe(1)
    expect(run.stdout + run.stderr).toContain('SaiImagesReplicationBacklogOld')
  })

  it('promtool check metrics: the scrape passes the lint (no gauge named like a counter)', () => {
    const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: scrape, encoding: 'utf8' })
    expect({ status: run.status, output: run.stdout + run.stderr }).toEqual({ status: 0, output: '' })
    expect(scrape).toContain('nodejs_active_handles{') // the counts by type stay
  })

  it('the dashboard is valid JSON for Grafana, and each query names metrics the service exports', () => {
    const dashboard = JSON.parse(readFileSync(join(DIR, 'sai-images-dashboard.json'), 'utf8')) as {
      title: string
      uid: string
      panels: Array<{ id: number; type: string; title: string; targets?: Array<{ expr: string; refId: string }> }>
    }
    expect(dashboard).toMatchObject({ title: expect.any(String), uid: 'sai-images-replication' })
    expect(new Set(dashboard.panels.map(p => p.id)).size).toBe(dashboard.panels.length)
    const queries = dashboard.panels.filter(p => p.type !== 'row')
    expect(queries.length).toBeGreaterThanOrEqual(10)
    const named = new Set<string>()
    for (const panel of queries) {
      expect(panel.targets, panel.title).not.toHaveLength(0)
      for (const target of panel.targets!) {
        const names = namesIn(target.expr)
        expect(names, `${panel.title}: ${target.expr}`).not.toHaveLength(0)
        for (const name of names) {
          expect({ panel: panel.title, name, exported: exported.has(name) }).toEqual({
            panel: panel.title,
            name,
            exported: true
          })
          named.add(name)
        }
      }
    }
    // the dashboard shows each of our series
    const ours = [...exported].filter(
      name =>
        name.startsWith('sai_image_storage_') &&
        !/_(sum|count)$/.test(name) &&
        !(name.endsWith('_seconds') && exported.has(`${name}_bucket`))
    )
    expect(ours.filter(name => !named.has(name))).toEqual([])
  })

  it('the rules and docs/observability.md name only exported series, and the docs list every one of ours', () => {
    for (const name of namesIn(readFileSync(join(DIR, 'sai-images-rules.yml'), 'utf8')))
      expect({ name, exported: exported.has(name) }).toEqual({ name, exported: true })
    const docs = readFileSync(join(ROOT, 'docs/observability.md'), 'utf8')
    const section = docs.slice(docs.indexOf('## Metrics of the replication service'))
    const documented = namesIn(section.slice(0, section.indexOf('\n## ', 5)))
    for (const name of documented) expect({ name, exported: exported.has(name) }).toEqual({ name, exported: true })
    const ours = [...exported].filter(
      name => name.startsWith('sai_image_storage_replication_') && !/_(bucket|sum|count)$/.test(name)
    )
    expect(ours.filter(name => !documented.includes(name))).toEqual([])
  })
})
