// A watcher that was stopped (SIGTERM, Ctrl-C) or killed is "stopped" at once for `replicate --health`
// and `status`, not "live" until its last pass ages past 3 × --watch-every + 10 s (the real CLI, child
// processes and signals, the real filesystem).
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readWatchHealth } from '../../../src/features/replication/index.js'
import { answer, cli, CLI } from '../../cli/run.js'
import { tempDir } from '../../infra/helpers/tmp.js'

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
      expect(Date.now() - stoppedAt).toBeLessThan(15_000) // well before 3 × 5 s + 10 s
    }
  }, 90_000)
})
