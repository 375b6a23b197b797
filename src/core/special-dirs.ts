/**
 * The folders a store keeps beside its objects, named once. None is a shard folder (they start
 * with a dot), so no walk of the objects enters them, and storage.py never looks there.
 */
export const SPECIAL_DIRS = {
  /** Where writes are staged: one place to sweep after a crash. */
  temp: '.tmp',
  /** Where a repair moves bad objects, so that nothing is deleted unseen. */
  quarantine: '.quarantine',
  /** Where a prune sets an object aside while it checks that no store renewed it. */
  pruning: '.pruning',
  /** The variant cache, on a store with a local root. */
  variants: '.variants',
  /** Replication's outbox, ledger and counters, on a primary with a local root. */
  replication: '.replication',
  /** Small named texts beside the objects (`ImageStorage.marks`): a replica's owner. */
  marks: '.marks'
} as const

/** The record of a store's layout at its root (drivers/fs/layout.ts), `{"depth":2,"width":2}`. */
export const LAYOUT_FILE = '.sai-layout.json'
