// SAI_IMAGE_STORAGE_ACK=2 promises a replica's copy before a store resolves: without a replica that
// is a configuration error, not a store that quietly keeps one copy.
import { join } from 'node:path'
import { readdir, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { createImageStorage } from '../../../src/features/factory/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { answer, cli } from '../../cli/run.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('SAI_IMAGE_STORAGE_ACK=2', () => {
  it('without a replica is ERR_CONFIG, in the library and the CLI; nothing is stored', async () => {
    const root = await tempDir()
    expect(() => createImageStorage({}, { SAI_IMAGE_STORAGE_PATH: root, SAI_IMAGE_STORAGE_ACK: '2' })).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFIG',
        message: expect.stringMatching(/^SAI_IMAGE_STORAGE_ACK: .*no replica is configured/)
      })
    )
    const file = join(await tempDir(), 'f.jpg')
    await writeFile(file, testJpeg(`ack ${root}`))
    const run = cli(['store', file, '--json'], { env: { SAI_IMAGE_STORAGE_PATH: root, SAI_IMAGE_STORAGE_ACK: '2' } })
    expect(run.code).toBe(6)
    expect(answer(run).error.code).toBe('ERR_CONFIG')
    expect(await readdir(root)).toEqual([]) // refused before anything was written
    // with a replica, and with ACK=1, it is accepted
    expect(() => createImageStorage({}, { SAI_IMAGE_STORAGE_PATH: root, SAI_IMAGE_STORAGE_ACK: '1' })).not.toThrow()
    const replica = await tempDir()
    const replicated = createImageStorage(
      {},
      {
        SAI_IMAGE_STORAGE_PATH: root,
        SAI_IMAGE_STORAGE_ACK: '2',
        SAI_IMAGE_STORAGE_REPLICAS: 'fs',
        SAI_IMAGE_STORAGE_REPLICA_PATH: replica
      }
    )
    await replicated.close()
  })
})
