/** Every `sai-images` command, in the order `--help` lists them. A new command is one file and one line here. */
import type { Command } from '../context.js'
import { backfillHashes } from './backfill.js'
import { deleteCommand } from './delete.js'
import { fetch } from './fetch.js'
import { ipfsReindex } from './ipfs.js'
import { importCommand, migrate } from './jobs.js'
import { exists, list, stat, store } from './objects.js'
import { prune } from './prune.js'
import { quarantine } from './quarantine.js'
import { replicate } from './replicate.js'
import { evict, whereis } from './replication.js'
import { status } from './status.js'
import { stats } from './stats.js'
import { takeOverCommand } from './take-over.js'
import { variants } from './variants.js'
import { verify } from './verify.js'

export const COMMANDS: Command[] = [
  store,
  fetch,
  exists,
  stat,
  list,
  stats,
  verify,
  quarantine,
  variants,
  prune,
  deleteCommand,
  replicate,
  status,
  whereis,
  evict,
  takeOverCommand,
  importCommand,
  migrate,
  backfillHashes,
  ipfsReindex
]
