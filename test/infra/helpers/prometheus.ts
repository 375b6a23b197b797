/**
 * Debian's Prometheus on a free loopback port, with a config and a data folder of its own (never the
 * Debian service's), scraping the targets given every second and loading the example's alert rules.
 */
import { spawn } from 'node:child_process'
import { copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureDebianPackages, freePort, waitFor } from '../setup/services.js'
import { ROOT } from './consumer.js'
import { tempDir } from './tmp.js'

export const PROMETHEUS = '/usr/bin/prometheus'
export const PROMTOOL = '/usr/bin/promtool'
export const RULES = join(ROOT, 'examples/grafana/sai-images-rules.yml')

export function ensurePrometheus(): void {
  ensureDebianPackages(PROMETHEUS, ['prometheus'], 'the Prometheus scrape and promtool tests')
}

export interface Prometheus {
  url: string
  /**
   * An instant query's result vector: `[{ metric, value: [time, "number"] }]`; throws on a query Prometheus refuses.
   */
  query: (expr: string) => Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>
  /** The API's answer at `path` (`/api/v1/rules`...). */
  api: (path: string) => Promise<any>
  stop: () => Promise<void>
}

export async function startPrometheus(job: string, target: string): Promise<Prometheus> {
  ensurePrometheus()
  const dir = await tempDir('sai-prometheus')
  copyFileSync(RULES, join(dir, 'rules.yml'))
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'rule_files: [rules.yml]',
      'scrape_configs:',
      `  - job_name: ${job}`,
      `    static_configs: [{ targets: ['${target}'] }]`
    ].join('\n') + '\n'
  )
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn'
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] }
  )
  let log = ''
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString()
  })
  const exited = new Promise(resolve => child.once('exit', resolve))
  await waitFor('Prometheus', async () => (await fetch(`${url}/-/ready`)).ok, 30_000).catch((err: Error) => {
    child.kill('SIGKILL')
    throw new Error(`${err.message}: ${log}`)
  })
  const api = async (path: string): Promise<any> => {
    const body = (await (await fetch(url + path)).json()) as { status: string; data: unknown; error?: string }
    if (body.status !== 'success') throw new Error(`Prometheus refused ${path}: ${body.error ?? ''}`)
    return body.data
  }
  return {
    url,
    api,
    query: async expr => ((await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as { result: any[] }).result,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    }
  }
}
