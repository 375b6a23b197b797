/**
 * The parts a replicated store is made of (index.ts makes them). `ReplicatedStorage` keeps them
 * to itself and hands each command the ones it needs (`Pick<Parts, ...>`), as the copier is given
 * its own; the watcher, the unseen count and the metrics, which an application builds from a
 * store, reach them through `partsOf`, which the subpath does not export.
 */
import type { Background } from '../../core/background.js'
import type { Logger } from '../../core/logger.js'
import type { ImageStorage } from '../../core/types.js'
import type { Copier } from './copier.js'
import type { Healer } from './heal.js'
import type { StateLayout } from './layout.js'
import type { Ledger } from './ledger.js'
import type { Outbox } from './outbox.js'
import type { ReplicaOwnership } from './owner.js'
import type { CopyReader } from './reads.js'
import type { Replica } from './types.js'

export interface Parts {
  primary: ImageStorage
  replicas: Replica[]
  layout: StateLayout
  outbox: Outbox
  ledger: Ledger
  copier: Copier
  healer: Healer
  reader: CopyReader
  /** One primary per replica: every call that writes to a replica asks it first (owner.ts). */
  owner: ReplicaOwnership
  background: Background
  logger?: Logger
}

/** The key of a store's parts: this module is not exported from the subpath, so applications do not reach them. */
export const PARTS: unique symbol = Symbol('sai-image-storage:replication.parts')

/** The parts of a replicated store (for this feature's own modules); a Proxy over the store will do. */
export function partsOf(store: object): Parts {
  const found = (store as { [PARTS]?: Parts })[PARTS]
  if (found === undefined) throw new TypeError('not a replicated store made by createReplicatedStorage')
  return found
}
