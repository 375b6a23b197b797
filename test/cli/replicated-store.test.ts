// The CLI's own writes on a replicated store: `store` and `import` copy before they exit (or say
// how many wait for the service), and a duplicate store of a replicated frame is not queued again.
import { existsSync, readdirSync } from 'node:fs'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { createReplicatedStorage } from '../../src/features/replication/index.js'
import { partsOf } from '../../src/features/replication/parts.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

async function setup(): Promise<{
  root: string
  replica: FilesystemDriver
  env: Record<string, string>
  files: string[]
}> {
  const root = await tempDir('sai-cli-repl')
  const replica = new FilesystemDriver({ root: await tempDir('sai-cli-replica') })
  const inputs = await tempDir('sai-cli-inputs')
  const files = [join(inputs, 'a.jpg'), join(inputs, 'b.jpg')]
  await writeFile(files[0]!, testJpeg('cli store a'))
  await writeFile(files[1]!, testJpeg('cli store b'))
  return {
    root,
    replica,
    files,
    env: {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: replica.root
    }
  }
}

const outbox = (root: string): string[] => {
  try {
    return readdirSync(join(root, '.replication/outbox/fs'))
  } catch {
    return []
  }
}

describe('store and import on a replicated store', () => {
  it('store copies before it exits; a duplicate store of a replicated frame queues nothing', async () => {
    const { root, replica, env, files } = await setup()
    const run = cli(['store', files[0]!, '--json'], { env })
    expect(run.code).toBe(0)
    const { hash } = answer(run)
    expect(await replica.exists(hash)).toBe(true)
    expect(outbox(root)).toEqual([])
    const human = cli(['store', files[0]!, files[1]!], { env })
    expect(human.code).toBe(0)
    expect(human.stderr).toMatch(/replication: every copy made before exit/)
    expect(outbox(root)).toEqual([])
  })

  it('with the copying left to the service, the summary says how many wait for it', async () => {
    const { root, replica, env, files } = await setup()
    const run = cli(['store', files[0]!, files[1]!], {
      env: { ...env, SAI_IMAGE_STORAGE_REPLICATE_IN_BACKGROUND: 'false' }
    })
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/replication: 2 pending; `sai-images replicate --watch` \(the service\) copies them/)
    expect(outbox(root)).toHaveLength(2)
    expect(readdirSync(replica.root).filter(name => !name.startsWith('.'))).toEqual([])
  })

  it('with the replica down, the summary says it is unreachable, and why', async () => {
    const { root, replica, env, files } = await setup()
    await rename(replica.root, `${replica.root}.away`)
    const run = cli(['store', files[0]!], { env })
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/replication: 1 pending: replica fs unreachable \(ERR_STORAGE_UNAVAILABLE: .+\); /)
    expect(run.stderr).toContain('`sai-images replicate --watch` (the service) copies it once the replica is back')
    expect(outbox(root)).toHaveLength(1)
    expect(existsSync(replica.root)).toBe(false) // never made again in its absence
  })

  it('import copies before it exits', async () => {
    const { root, replica, env, files } = await setup()
    const mapping = join(await tempDir('sai-cli-mapping'), 'mapping.jsonl')
    const run = cli(['import', '--min-age', '0s', join(files[0]!, '..'), '--mapping', mapping], { env })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/replication: every copy made before exit/)
    expect(outbox(root)).toEqual([])
    let copies = 0
    for await (const entry of replica.list()) copies += entry.size === undefined ? 0 : 1
    expect(copies).toBe(2)
  })

  it('in the library: a duplicate store of a frame every replica holds verified is not queued again', async () => {
    const primary = new FilesystemDriver({ root: await tempDir('sai-dup') })
    const replica = new FilesystemDriver({ root: await tempDir('sai-dup-replica') })
    const storage = createReplicatedStorage({
      primary,
      replicas: [{ name: 'copy', storage: replica }],
      background: false
    })
    const jpeg = testJpeg('duplicate')
    const { sha256 } = await storage.store(jpeg)
    expect(partsOf(storage).outbox.pending('copy')).toEqual([sha256])
    await storage.store(jpeg) // a duplicate before the copy: still one entry
    expect(partsOf(storage).outbox.pending('copy')).toEqual([sha256])
    expect(await storage.drain()).toMatchObject({ copied: 1 })
    expect((await storage.store(jpeg)).isDuplicate).toBe(true)
    expect(partsOf(storage).outbox.pending('copy')).toEqual([])
    await storage.close()
  })
})
