// A watcher that was stopped (SIGTERM, Ctrl-C) or killed is "stopped" at once for `replicate --health`
// and `status`, not "live" until its last pass ages past 3 × --watch-every + 10 s; its stop summary
// counts every copy it made (the real CLI, child processes and signals, the real filesystem).
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { readWatchHealth } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { answer, cli, CLI } from '../../cli/run.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { freePort } from '../../infra/setup/services.js'

async function until(test: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise(r => setTimeout(r, 100)))
    if (test()) return true
  return test()
}

describe('a stopped watcher', () => {
  it('SIGTERM, SIGINT and SIGKILL: --health exits 1 and says "stopped" at once; status says so too', async () => {
    const root = await tempDir('sai-stopped')
    const env = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir('sai-stopped-replica')
    }
    for (const [signal, code] of [
      ['SIGTERM', 0],
      ['SIGINT', 130],
      ['SIGKILL', null]
    ] as const) {
      const child = spawn(process.execPath, [CLI, 'replicate', '--watch', '--no-reconcile', '--watch-every', '5s'], {
        env: { ...process.env, ...env },
        stdio: 'ignore'
      })
      const exit = new Promise(resolve => child.on('close', code => resolve(code)))
      const health = (): ReturnType<typeof readWatchHealth> => readWatchHealth(join(root, '.replication'))
      expect(await until(() => health()?.pid === child.pid && health()?.stoppedAt === undefined, 15_000)).toBe(true)
      const live = cli(['replicate', '--health', '--json'], { env })
      expect(live.code).toBe(0)
      expect(answer(live)).toMatchObject({ live: true, state: 'live' })
      child.kill(signal)
      expect(await exit).toBe(code)
      const stoppedAt = Date.now()
      const run = cli(['replicate', '--health'], { env })
      expect({ signal, code: run.code }).toEqual({ signal, code: 1 })
      expect(run.stdout).toMatch(
        signal === 'SIGKILL' ? /watcher: stopped \(its process is gone\)/ : /watcher: stopped,/
      )
      const status = cli(['status', '--json'], { env })
      expect(answer(status).unseen.watcher).toMatchObject({ live: false, state: 'stopped' })
      expect(cli(['status'], { env }).stdout).toMatch(/\nwatcher: stopped, last pass /)
      expect(Date.now() - stoppedAt).toBeLessThan(25_000) // before 3 × 5 s + 10 s would have made it STALE
    }
  }, 90_000)

  it("the stop summary counts every copy made, of other writers' frames too (as copies_total does)", async () => {
    const root = await tempDir('sai-summary')
    const replica = new FilesystemDriver({ root: await tempDir('sai-summary-replica') })
    const env = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: replica.root
    }
    // one frame through the outbox, left to the service
    const stored = cli(['store', '-', '--json'], {
      env: { ...env, SAI_IMAGE_STORAGE_REPLICATE_IN_BACKGROUND: 'false' },
      input: testJpeg(`outbox ${root}`, 3000)
    })
    const hashes: string[] = [answer(stored).hash]
    const port = await freePort()
    const args = ['replicate', '--watch', '--no-reconcile', '--watch-every', '1s', '--metrics-port', String(port)]
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'ignore']
    })
    let out = ''
    child.stdout!.on('data', (data: Buffer) => {
      out += data.toString()
    })
    const exit = new Promise(resolve => child.on('close', code => resolve(code)))
    // three frames another program renames into the layout while the watcher runs
    const primary = new FilesystemDriver({ root })
    for (let i = 0; i < 3; i++) {
      const jpeg = testJpeg(`foreign ${root} ${i}`, 3000)
      const hash = createHash('sha256').update(jpeg).digest('hex')
      await mkdir(dirname(primary.pathOf(hash)), { recursive: true })
      await writeFile(join(root, `${hash}.part`), jpeg)
      await rename(join(root, `${hash}.part`), primary.pathOf(hash))
      hashes.push(hash)
    }
    expect(await until(() => hashes.every(hash => existsSync(replica.pathOf(hash))), 20_000)).toBe(true)
    await new Promise(resolve => setTimeout(resolve, 1000)) // the copies' outbox entries gone
    const scrape = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    const total = Number(/^sai_image_storage_replication_copies_total\{replica="fs"\} (\d+)$/m.exec(scrape)?.[1])
    expect(total).toBe(4) // each frame once: the watcher's background drains and replicate's loop never copy one twice
    child.kill('SIGTERM')
    expect(await exit).toBe(0)
    expect(out).toContain(`replicate stopped: ${total} copies made, 0 pending`)
  }, 60_000)
})
