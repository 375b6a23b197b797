/**
 * Replication: a primary store (typically the filesystem) kept in sync with replicas (S3, IPFS,
 * another filesystem), healed from them, and freed of old frames only once they live on there.
 * `store` resolves once the frame is durable on the primary and its replication durably recorded
 * (the outbox); the copier ships it in the background; a reconcile re-derives from the listings
 * whatever an outbox lost. See docs/replication.md for what each copy is promised.
 *
 * @example
 * ```ts
 * import { createReplicatedStorage } from 'sai-image-storage/replication'
 *
 * const storage = createReplicatedStorage({
 *   primary: new FilesystemDriver({ root: '/mnt/raid/images' }),
 *   replicas: [{ name: 's3', storage: new S3Driver({ endpoint, bucket: 'frames' }) }]
 * })
 * await storage.store(jpeg)              // on the RAID, and recorded for S3
 * await storage.fetch(hash)              // a damaged local copy is healed from S3
 * await storage.evict({ olderThan: 30 * 86_400_000 }) // only copies S3 verifiably holds
 * ```
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { Background } from '../../core/background.js'
import { checkChoice, checkWhole } from '../../core/checks.js'
import { ConfigError } from '../../core/errors.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import { Copier } from './copier.js'
import { Healer } from './heal.js'
import { StateLayout } from './layout.js'
import { Ledger, PRIMARY } from './ledger.js'
import { DrainLock } from './lock.js'
import { Outbox } from './outbox.js'
import { ReplicaOwnership } from './owner.js'
import { CopyReader } from './reads.js'
import { ReplicatedStorage } from './storage.js'
import type { ReplicatedStorageInit } from './types.js'

export { ReplicatedStorage } from './storage.js'
export type { EvictOptions, EvictReport } from './evict.js'
export type { ReplicatedVerifyReport } from './types.js'
export type * from './types.js'
export { PrimaryWatcher, readWatchHealth, type WatchHealth, type WatchOptions } from './watch.js'
export { countUnseen, type Unseen } from './unseen.js'
export { replicaOwners, takeOver, type HostIdentity, type ReplicaOwner } from './owner.js'
export { TakeOverConflictError } from './owner-messages.js'

export function createReplicatedStorage(init: ReplicatedStorageInit): ReplicatedStorage {
  checkReplicas(init.replicas, init.primary.root)
  // from JavaScript or JSON: a concurrency of 0 copies nothing, ever; ack '2' would be ack 1
  checkWhole('concurrency', init.concurrency)
  checkChoice('ack', init.ack, [1, 2])
  checkWhole('ackTimeoutMs', init.ackTimeoutMs, { min: 0, of: 'ms' })
  const layout = new StateLayout(stateDirOf(init))
  const { primary, replicas, logger } = init
  const outbox = new Outbox(layout)
  const ledger = new Ledger(layout)
  const lock = new DrainLock(layout.drainLock)
  const owner = new ReplicaOwnership(layout.dir, replicas) // one primary per replica (owner.ts)
  const copier = new Copier(primary, replicas, outbox, ledger, lock, {
    concurrency: init.concurrency ?? 4,
    logger,
    layout,
    owner
  })
  const healer = new Healer(primary, layout, ledger, logger)
  const reader = new CopyReader(primary, replicas, ledger, logger)
  const background = new Background(logger)
  return new ReplicatedStorage(init, {
    primary,
    replicas,
    layout,
    outbox,
    ledger,
    copier,
    healer,
    reader,
    owner,
    background,
    logger
  })
}

function checkReplicas(replicas: ReplicatedStorageInit['replicas'], primaryRoot?: string): void {
  if (replicas.length === 0) throw new ConfigError('replicas', 'name at least one replica')
  const folder = (root?: string) => {
    try {
      return root === undefined ? undefined : statSync(root, { throwIfNoEntry: false })
    } catch {} // unreadable: its own error comes with its first use
  }
  const primary = folder(primaryRoot)
  // the same folder by another path (a symbolic link, a bind mount): its "copy" is the primary's own file, and an
  // evict that proved it would delete the only one
  for (const { name, storage } of replicas) {
    const replica = folder(storage.root)
    if (primary !== undefined && replica?.ino === primary.ino && replica.dev === primary.dev)
      throw new ConfigError('replicas', `the replica ${name} is the primary's own folder (${storage.root})`)
  }
  const names = replicas.map(r => r.name)
  for (const name of names)
    if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(name) || name === PRIMARY)
      throw new ConfigError(
        'replicas',
        `a replica's name is 1 to 32 of a-z 0-9 _ - (and not "${PRIMARY}"), got ${JSON.stringify(name)}`
      )
  if (new Set(names).size !== names.length)
    throw new ConfigError('replicas', `two replicas are called the same: ${names.join(', ')}`)
}

/** The state folder: `stateDir`, or the special folder under the primary's root. */
function stateDirOf(init: ReplicatedStorageInit): string {
  if (init.stateDir !== undefined) return init.stateDir
  if (init.primary.root !== undefined) return join(init.primary.root, SPECIAL_DIRS.replication)
  throw new ConfigError(
    'stateDir',
    `the ${init.primary.driver} primary has no local folder: say where replication keeps its outbox and ledger ` +
      '(stateDir, SAI_IMAGE_STORAGE_REPLICATION_PATH)'
  )
}
