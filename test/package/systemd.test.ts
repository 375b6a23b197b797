// The shipped systemd unit works as written on a Debian host where the package is installed in an
// application folder: `systemd-analyze verify` accepts it (its command exists, no unknown key), and
// its ExecStart, run from / as its User with only its environment, replicates a frame and exits 0
// on SIGTERM (what `systemctl stop` sends). Paths are the unit's own, moved under a temporary folder.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, mkdir, rename, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../src/testing/index.js'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { PACKAGE } from './package.js'

const UNIT = join(ROOT, 'examples/systemd/sai-images-replicate.service')
const PROMETHEUS = join(ROOT, 'examples/grafana/prometheus.yml')
// systemd's PATH for services: the unit is run with it and its own variables, nothing else
const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** The unit's [Service] settings (a key given twice keeps every value). */
function service(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>()
  let section = ''
  for (const line of text.split('\n')) {
    if (/^\[.+\]$/.test(line.trim())) section = line.trim()
    const match = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (section === '[Service]' && match !== null)
      settings.set(match[1]!, [...(settings.get(match[1]!) ?? []), match[2]!])
  }
  return settings
}

/** A port nothing listens on now (the unit's 9465 may be taken on a shared machine). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

interface Installed {
  unit: string
  text: string
  app: string
  store: string
  envFile: string
  port: number
}

/**
 * The unit with its application folder, store, environment file and metrics port moved under `base`
 * (a free port), and the packages of its install line installed there.
 */
async function installed(): Promise<Installed> {
  const base = await tempDir('sai-unit')
  await chmod(base, 0o755)
  const shipped = readFileSync(UNIT, 'utf8')
  const app = join(base, 'opt/sai-images')
  const store = join(base, 'mnt/raid/images')
  const envFile = join(base, 'etc/sai-images.env')
  const port = await freePort()
  const text = shipped
    .replaceAll('--metrics-port 9465', `--metrics-port ${port}`)
    .replaceAll('/opt/sai-images', app)
    .replaceAll('/mnt/raid/images', store)
    .replaceAll('/etc/sai-images.env', envFile)
  for (const dir of [join(app, 'node_modules/.bin'), store, dirname(envFile)]) await mkdir(dir, { recursive: true })
  await symlink(PACKAGE, join(app, 'node_modules/sai-image-storage'))
  // the package's dependencies, and what the unit's install line adds (prom-client for --metrics-port)
  const added = installLine(shipped).filter(name => !name.startsWith('sai-image-storage') && !name.startsWith('@'))
  for (const dependency of ['multiformats', 'p-limit', 'yocto-queue', ...added.map(name => name.split('@')[0]!)])
    await symlink(join(ROOT, 'node_modules', dependency), join(app, 'node_modules', dependency))
  await symlink('../sai-image-storage/dist/cli.js', join(app, 'node_modules/.bin/sai-images')) // as npm links a bin
  const unit = join(base, 'sai-images-replicate.service')
  await writeFile(unit, text)
  return { unit, text, app, store, envFile, port }
}

/** The packages of the unit's `npm install` line (a comment, possibly wrapped over two lines). */
function installLine(text: string): string[] {
  const comment = text
    .split('\n')
    .filter(line => line.startsWith('#'))
    .map(line => line.slice(1).trim())
    .join(' ')
  return /npm install ([^()]+?)(?= \(|$)/.exec(comment)![1]!.split(' ')
}

describe('examples/systemd/sai-images-replicate.service', () => {
  it('names an application folder, an absolute command, restarts on failure only, and lets the store be written', () => {
    const settings = service(readFileSync(UNIT, 'utf8'))
    expect(settings.get('WorkingDirectory')).toEqual(['/opt/sai-images'])
    expect(settings.get('ExecStart')![0]).toMatch(
      /^\/opt\/sai-images\/node_modules\/\.bin\/sai-images replicate --watch/
    )
    expect(settings.get('Restart')).toEqual(['on-failure'])
    expect(settings.get('ProtectSystem')).toEqual(['strict'])
    expect(settings.get('ReadWritePaths')).toEqual(['/mnt/raid/images'])
  })

  it('fits examples/grafana: it serves the metrics on the port Prometheus scrapes, and installs prom-client', () => {
    const unit = readFileSync(UNIT, 'utf8')
    const port = /--metrics-port (\d+)/.exec(service(unit).get('ExecStart')![0]!)?.[1]
    const scrape = readFileSync(PROMETHEUS, 'utf8')
    expect(scrape).toContain('job_name: sai-images-replicate')
    expect(port).toBeDefined()
    expect(scrape).toContain(`targets: ["127.0.0.1:${port}"]`)
    const peer = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).peerDependencies['prom-client']
    expect(peer).toBe('^15.0.0')
    expect(installLine(unit)).toEqual(['sai-image-storage', '@aws-sdk/client-s3', 'prom-client@15'])
  })

  it('passes systemd-analyze verify', async () => {
    const { unit } = await installed()
    const run = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
  })

  it.skipIf(process.getuid?.() !== 0)(
    'its ExecStart, run from / as its User with its environment only, copies a frame and exits 0 on SIGTERM',
    async () => {
      const { text, store, envFile, port } = await installed()
      const settings = service(text)
      const user = settings.get('User')![0]!
      if (spawnSync('id', [user]).status !== 0) {
        expect(
          spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user]).status
        ).toBe(0)
      }
      const replica = join(dirname(store), 'replica')
      await mkdir(replica)
      expect(spawnSync('chown', ['-R', `${user}:`, store, replica]).status).toBe(0)
      await writeFile(
        envFile,
        `SAI_IMAGE_STORAGE_PATH=${store}\nSAI_IMAGE_STORAGE_REPLICAS=fs\nSAI_IMAGE_STORAGE_REPLICA_PATH=${replica}\n`
      )
      const env: Record<string, string> = { PATH: SYSTEMD_PATH }
      for (const line of [...readFileSync(envFile, 'utf8').split('\n'), ...(settings.get('Environment') ?? [])]) {
        const at = line.indexOf('=')
        if (at > 0) env[line.slice(0, at)] = line.slice(at + 1)
      }
      const argv = settings.get('ExecStart')![0]!.split(' ')
      const runner = spawn('runuser', ['-u', user, '--', ...argv], { cwd: '/', env, stdio: ['ignore', 'pipe', 'pipe'] })
      let output = ''
      runner.stdout.on('data', (data: Buffer) => {
        output += data.toString()
      })
      runner.stderr.on('data', (data: Buffer) => {
        output += data.toString()
      })
      const exited = new Promise<number | null>(resolve => runner.on('close', code => resolve(code)))

      // a frame put into place by another writer reaches the replica
      const jpeg = testJpeg('systemd unit', 3000)
      const hash = createHash('sha256').update(jpeg).digest('hex')
      const key = join(hash.slice(0, 2), hash.slice(2, 4), `${hash}.jpg`)
      await mkdir(join(store, dirname(key)), { recursive: true })
      await writeFile(join(store, 'frame.part'), jpeg)
      await rename(join(store, 'frame.part'), join(store, key))
      for (let waited = 0; waited < 150 && !existsSync(join(replica, key)); waited++)
        await new Promise(resolve => setTimeout(resolve, 100))
      expect(existsSync(join(replica, key)), output).toBe(true)
      expect(existsSync(join(store, '.replication/watch.json')), output).toBe(true)
      // the metrics Prometheus scrapes (examples/grafana/prometheus.yml), on the unit's --metrics-port
      const metrics = await (await globalThis.fetch(`http://127.0.0.1:${port}/metrics`)).text()
      expect(metrics).toMatch(
        /^sai_image_storage_replication_foreign_write_to_copy_seconds_count\{[^}]*"fs"[^}]*\} 1$/m
      )

      // systemctl stop: SIGTERM to the service's process (runuser's child, the node process)
      const children = readFileSync(`/proc/${runner.pid}/task/${runner.pid}/children`, 'utf8')
        .trim()
        .split(' ')
        .map(Number)
      expect(children).toHaveLength(1)
      process.kill(children[0]!, 'SIGTERM')
      expect(await exited, output).toBe(0)
      expect(output).toMatch(/replicate stopped: 1 copy made, 0 pending/)
    },
    60_000
  )
})
