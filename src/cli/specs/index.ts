/**
 * Every `sai-images` command, in the order `--help` lists them: what the parser and the help need (name, usage,
 * flags), loaded at every start. The commands' work (commands/index.ts: with the factory and the drivers) is
 * imported only when a command runs, so that `--version`, `help` and a mistyped flag load none of it
 * (bench/RESULTS-replication-cli.md). A new command is its spec (specs/<file>.ts), its work (commands/<file>.ts),
 * and a line here and in commands/index.ts.
 */
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
