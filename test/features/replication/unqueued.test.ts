// What a replica still lacks of a frame no outbox names (unqueued.ts): the outbox and the ledger's
// verified records read, for the watcher, status and a duplicate store.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PrefixSharding } from '../../../src/core/sharding.js'
import { StateLayout } from '../../../src/features/replication/layout.js'
import { HOW, Ledger } from '../../../src/features/replication/ledger.js'
import { Outbox } from '../../../src/features/replication/outbox.js'
import { CopyBook, framesIn, toQueue } from '../../../src/features/replication/unqueued.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const A = 'ab'.repeat(32)
const B = 'cd'.repeat(32)

describe('CopyBook, toQueue', () => {
  it(
    'a replica lacks a frame unless it is queued for it or its ' + 'copy is verified (upload, rehash, listed)',
    async () => {
      const layout = new StateLayout(await tempDir('sai-unqueued'))
      const outbox = new Outbox(layout)
      const ledger = new Ledger(layout)
      await outbox.add(A, ['s3'])
      await ledger.append('ipfs', [{ sha256: A, at: 5, how: HOW.listed }])
      await ledger.append('ipfs', [{ sha256: B, at: 5, how: HOW.rehash }])
      await ledger.append('s3', [{ sha256: B, at: 6, how: HOW.gone }])
      const book = new CopyBook(outbox, ledger, ['s3', 'ipfs'])
      expect(book.lacking(A)).toEqual([])
      expect(book.lacking(B)).toEqual(['s3']) // deleted on purpose is no copy
      expect(book.queued('s3', A)).toBe(true)
      expect(book.verified('ipfs', A)).toMatchObject({ at: 5, how: 'listed' })
      expect(book.verified('s3', B)).toBeUndefined()
      const replicas = [{ name: 's3' }, { name: 'ipfs' }]
      expect(toQueue({ outbox, ledger }, replicas, { sha256: B, isDuplicate: false })).toEqual(['s3', 'ipfs'])
      expect(toQueue({ outbox, ledger }, replicas, { sha256: B, isDuplicate: true })).toEqual(['s3'])
      expect(toQueue({ outbox, ledger }, replicas, { sha256: A, isDuplicate: true })).toEqual([])
    }
  )

  it('framesIn: the frames one shard folder holds, by the layout; anything else passed over', async () => {
    const root = await tempDir('sai-frames-in')
    const sharding = new PrefixSharding()
    const key = sharding.encode(A).split('/').slice(0, -1).join('/')
    await mkdir(join(root, key), { recursive: true })
    await writeFile(join(root, sharding.encode(A)), 'x')
    await writeFile(join(root, key, 'notes.txt'), 'x')
    await writeFile(join(root, key, `${B}.jpg`), 'x') // a frame of another folder
    expect(framesIn(root, key, sharding)).toEqual([A])
    expect(framesIn(root, 'ff/ff', sharding)).toEqual([])
  })
})
