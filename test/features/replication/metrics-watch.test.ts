// The watcher's series of `sai-images replicate --watch --metrics-port`: a real service running as `nobody` (root
// reads every folder) over a store whose shard folder another user made 0700. Its frames are not seen while the folder
// cannot be read: the scrape must say so, and stop saying so once the folder can be read.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI } from '../../cli/run.js'
import { freePort, waitFor } from '../../infra/setup/services.js'
import { asRoot, closeFolder, foreignFrames, NOBODY, outbox } from './as-nobody.js'

const P = 'sai_image_storage_replication_'
let service: ChildProcess | undefined
afterAll(async () => {
  if (service === undefined || service.exitCode !== null) return
  service.kill('SIGTERM')
  await once(service, 'exit')
})

/** Our series' samples, `name{labels}` to value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text()
  const samples = new Map<string, number>()
  for (const line of text.split('\n'))
    if (line.startsWith(P)) samples.set(line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' '))))
  return samples
}

describe('replicate --watch --metrics-port: a folder the watcher cannot read', () => {
  it.skipIf(!asRoot)(
    'is in watch_failing and its since-series (by code) until a pass reads it; caught_up then moves on',
    async () => {
      const { root, replica, frames } = await foreignFrames(3)
      closeFolder(root, frames[0]!.upper, 0o700)
      const port = await freePort()
      const url = `http://127.0.0.1:${port}/metrics`
      const env = {
        ...process.env,
        SAI_IMAGE_STORAGE_PATH: root,
        SAI_IMAGE_STORAGE_REPLICAS: 'fs',
        SAI_IMAGE_STORAGE_REPLICA_PATH: replica
      }
      const args = ['replicate', '--watch', '--metrics-port', String(port), '--no-reconcile', '--watch-folders', '0']
      const started = Date.now()
      service = spawn(process.execPath, [CLI, ...args, '--watch-every', '0.3s'], {
        env,
        uid: NOBODY,
        gid: NOBODY,
        stdio: 'ignore'
      })
      let s = new Map<string, number>()
      const failing = `${P}watch_failing_since_timestamp_seconds{code="EACCES"}`
      await waitFor('the failing folder in the scrape', async () => (s = await scrape(url)).has(failing), 30_000)
      expect(s.get(`${P}watch_failing`)).toBe(1)
      expect(s.get(failing)! * 1000).toBeGreaterThanOrEqual(started - 1000)
      expect(s.get(failing)! * 1000).toBeLessThanOrEqual(Date.now())
      // the folders it could read were queued (and copied), the closed one's frame was not
      expect(outbox(root)).not.toContain(frames[0]!.sha256)
      const before = s.get(`${P}watch_caught_up_timestamp_seconds`) ?? 0
      expect(before * 1000).toBeLessThan(started) // held back: it has not seen every frame since it started

      chmodSync(join(root, frames[0]!.upper), 0o755)
      await waitFor(
        'the scrape after a pass that read every folder',
        async () => (s = await scrape(url)).get(`${P}watch_failing`) === 0,
        30_000
      )
      expect([...s.keys()].filter(k => k.startsWith(`${P}watch_failing_since`))).toEqual([])
      expect(s.get(`${P}watch_caught_up_timestamp_seconds`)! * 1000).toBeGreaterThan(started)
      service.kill('SIGTERM')
      expect((await once(service, 'exit'))[0]).toBe(0)
    },
    90_000
  )
})
