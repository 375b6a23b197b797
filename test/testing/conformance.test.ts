import { truncate } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import type { ImageStorage } from '../../src/core/types.js'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { MemoryDriver } from '../../src/drivers/memory/index.js'
import { PrefixSharding } from '../../src/core/sharding.js'
import { describeImageStorage } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'

const api = { describe, it, expect }
/** What a writer that died leaves under the object's name: its first bytes, or none. */
const damage = async (storage: ImageStorage, hash: string, keep: number): Promise<void> => {
  await truncate(storage.pathOf(hash), keep)
}
/** The same root, opened with another layout setting. */
const withLayout = (storage: ImageStorage, layout: { depth: number; width: number }): ImageStorage =>
  new FilesystemDriver({ root: storage.root!, sharding: new PrefixSharding(layout) })

describeImageStorage({ name: 'MemoryDriver', create: () => new MemoryDriver() }, api)
describeImageStorage(
  {
    name: 'FilesystemDriver (storage.py layout)',
    create: async () => new FilesystemDriver({ root: await tempDir() }),
    damage,
    withLayout
  },
  api
)
describeImageStorage(
  {
    name: 'FilesystemDriver (depth 1, width 3)',
    create: async () =>
      new FilesystemDriver({ root: await tempDir(), sharding: new PrefixSharding({ depth: 1, width: 3 }) }),
    damage,
    withLayout
  },
  api
)
describeImageStorage(
  {
    name: 'FilesystemDriver (flat, fsync off)',
    create: async () =>
      new FilesystemDriver({ root: await tempDir(), sharding: new PrefixSharding({ depth: 0 }), fsync: false }),
    damage
  },
  api
)
