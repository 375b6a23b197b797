import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { isAbsolute } from 'node:path'
import { DAMAGED_REASONS } from '../../core/quarantine.js'
import type { ImageStorage, Quarantine, QuarantineEntry } from '../../core/types.js'
import { plural, storeLine, UsageError, type Context } from '../context.js'
import { formatBytes, parseDuration } from '../units.js'
import { REASONS } from '../specs/quarantine.js'

/**
 * The reasons entries carry: verify's findings, and `healed` (the damaged primary copy of a frame a
 * replica healed). An unknown --reason is a typo, refused rather than selecting nothing (exit 0).
 */

export async function quarantine(cli: Context): Promise<number> {
  const [action = 'list', ...ids] = cli.positionals
  if (action === 'list' && ids.length > 0)
    throw new UsageError(`quarantine list takes no operands, not ${ids.join(' ')}`)
  // a flag of restore or purge given to list (or --force to purge) would be dropped without a word
  const unused = (action === 'list' ? ['all', 'reason', 'older-than', 'since', 'force', 'dry-run'] : ['force'])
    .filter(flag => cli.flags[flag] !== undefined)
    .map(flag => `--${flag}`)
  if (unused.length > 0 && action !== 'restore') {
    const why = action === 'list' ? 'restore and purge take a selection' : 'only restore puts bytes back'
    throw new UsageError(`quarantine ${action} takes no ${unused.join(', ')} (${why})`)
  }
  const storage = await cli.storage()
  const held = storage.quarantine
  if (held === undefined) throw new UsageError(`the ${storage.driver} driver keeps no quarantine`)
  if (action === 'list') return await list(cli, storage, held)
  if (action !== 'restore' && action !== 'purge')
    throw new UsageError(`unknown action ${action}: list, restore or purge`)
  const selected = await selection(cli, held)
  if (selected !== undefined && ids.length > 0)
    throw new UsageError(`${action} takes ids or a selection (--all, --reason, --older-than, --since), not both`)
  // a folder (an older release's repair moved it here, with what it held) is purged by its id, never by a selection
  const kept: string[] = []
  if (selected !== undefined) {
    for await (const entry of held.list())
      if (selected(entry)) (entry.folder === true && action === 'purge' ? kept : ids).push(entry.id)
  } else if (ids.length === 0)
    throw new UsageError(
      `${action} needs the ids that \`sai-images quarantine list\` prints, or a selection: ` +
        '--all, --reason R, --older-than D, --since D'
    )
  if (cli.flags['dry-run'] === true) return await dryRun(cli, storage, held, action, ids, kept)
  return await restoreOrPurge(cli, storage, held, action, ids, kept)
}

/**
 * Whether `restore` would find the entry's bytes matching its name (it reads them, as restore does);
 * an entry that is not a local file is judged by its reason.
 */
async function intact(entry: QuarantineEntry): Promise<boolean> {
  if (!isAbsolute(entry.path) || !existsSync(entry.path)) return !DAMAGED_REASONS.has(entry.reason ?? '')
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(entry.path)) hash.update(chunk as Buffer)
  return hash.digest('hex') === entry.sha256
}

/** What `restore` or `purge` of `ids` would do, and refuse, and its exit code: nothing is changed. */
async function dryRun(
  cli: Context,
  storage: ImageStorage,
  held: Quarantine,
  action: 'restore' | 'purge',
  ids: string[],
  kept: string[]
): Promise<number> {
  const entries = new Map<string, QuarantineEntry>()
  for await (const entry of held.list()) entries.set(entry.id, entry)
  const would: QuarantineEntry[] = []
  const refused = new Map<string, string>(kept.map(id => [id, FOLDER_KEPT]))
  const force = cli.flags.force === true
  for (const id of ids) {
    const entry = entries.get(id)
    if (entry === undefined) refused.set(id, 'no such entry: ids are the names `sai-images quarantine list` prints')
    else if (action === 'restore' && entry.folder === true) refused.set(id, FOLDER_RESTORE)
    else if (action === 'restore' && !force && entry.originalKey === undefined && !(await intact(entry)))
      refused.set(id, 'its bytes do not match its name: restore --force puts them back anyway')
    else if (action === 'restore' && entry.originalKey === undefined && (await storage.exists(entry.sha256)))
      refused.set(id, 'an object is already stored under its name')
    else would.push(entry)
  }
  const verb = action === 'restore' ? 'restored' : 'purged'
  const bytes = would.reduce((sum, e) => sum + e.size, 0)
  cli.out(
    `would ${action} ${plural(would.length, 'object')} (${formatBytes(bytes)}); dry run, nothing changed` +
      would.map(e => `\n  would ${action}: ${e.id}  ${e.size} bytes  ${e.reason ?? ''}`).join('') +
      [...refused].map(([id, why]) => `\n  would not be ${verb}: ${id} (${why})`).join('') +
      `\n${storeLine(storage)}`,
    {
      dryRun: true,
      ...(action === 'restore'
        ? { wouldRestore: would.map(e => e.id) }
        : { wouldPurge: would.map(e => e.id), wouldFree: bytes }),
      refused: [...refused.keys()],
      store: storage.location
    }
  )
  if ([...refused.values()].some(why => why.includes('--force'))) return 4
  return refused.size > 0 ? 1 : 0
}

const FOLDER_KEPT = 'a folder, with what it holds: a selection never purges one; purge it by its id'
const FOLDER_RESTORE = "a folder, not a frame's file: restore refuses it; move what you keep out of it by hand"

async function list(cli: Context, storage: ImageStorage, held: Quarantine): Promise<number> {
  const entries = []
  let bytes = 0
  for await (const entry of held.list()) {
    entries.push(entry)
    bytes += entry.size
  }
  const line = (e: QuarantineEntry): string =>
    `\n  ${e.id}  ${e.size} bytes  ${e.reason ?? ''}${e.originalKey === undefined ? '' : ` (was ${e.originalKey})`}` +
    (e.folder === true ? ` (${FOLDER_RESTORE})` : '')
  cli.out(
    `${plural(entries.length, 'object')} in quarantine, ${formatBytes(bytes)}` +
      entries.map(line).join('') +
      `\n${storeLine(storage)}`,
    { objects: entries.length, bytes, entries, store: storage.location }
  )
  return 0
}

async function restoreOrPurge(
  cli: Context,
  storage: ImageStorage,
  held: Quarantine,
  action: 'restore' | 'purge',
  ids: string[],
  kept: string[]
): Promise<number> {
  const done: string[] = []
  const refused: string[] = [...kept]
  const why = new Map<string, string>(kept.map(id => [id, FOLDER_KEPT]))
  const force = cli.flags.force === true
  let damaged = false
  for (const id of ids) {
    try {
      ;((await (action === 'restore' ? held.restore(id, { force }) : held.purge(id))) ? done : refused).push(id)
    } catch (err) {
      const { code } = err as { code?: string }
      if (code !== 'ERR_INTEGRITY' && code !== 'ERR_INVALID_INPUT') throw err // (invalid: a folder, never restored)
      damaged ||= code === 'ERR_INTEGRITY'
      refused.push(id)
      why.set(id, (err as Error).message)
    }
  }
  const verb = action === 'restore' ? 'restored' : 'purged'
  // a refusal that is not about the bytes: the entry is not there, or (restore) its name is taken
  const present = new Set<string>()
  if (refused.length > why.size) for await (const entry of held.list()) present.add(entry.id)
  const reason = (id: string): string =>
    why.get(id) ??
    (present.has(id)
      ? 'an object is already stored under its name'
      : 'no such entry: ids are the names `sai-images quarantine list` prints')
  cli.out(
    `${plural(done.length, 'object')} ${verb}` +
      refused.map(id => `\n  not ${verb}: ${id} (${reason(id)})`).join('') +
      `\n${storeLine(storage)}`,
    {
      [verb]: done,
      refused,
      ...(why.size === 0 ? {} : { reasons: Object.fromEntries(why) }),
      store: storage.location
    }
  )
  if (damaged) return 4
  return refused.length > 0 ? 1 : 0
}

/**
 * The entries `--all`, `--reason`, `--older-than` and `--since` choose (every one given must hold);
 * undefined if none is given.
 */
async function selection(cli: Context, held: Quarantine): Promise<((entry: QuarantineEntry) => boolean) | undefined> {
  const reasons = cli.strings('reason')
  let unknown = reasons.filter(reason => !REASONS.includes(reason))
  // a reason no entry here carries, nor any repair gives: a typo (`currupt`), not an empty selection
  if (unknown.length > 0)
    for await (const entry of held.list()) unknown = unknown.filter(reason => reason !== entry.reason)
  if (unknown.length > 0)
    throw new UsageError(`--reason ${unknown[0]} is not a reason of the quarantine: ${REASONS.join(', ')}`)
  const olderThan =
    cli.string('older-than') === undefined ? undefined : parseDuration(cli.string('older-than')!, '--older-than')
  const since = cli.string('since') === undefined ? undefined : parseDuration(cli.string('since')!, '--since')
  const all = cli.flags.all === true
  if (!all && reasons.length === 0 && olderThan === undefined && since === undefined) return undefined
  if (all && (reasons.length > 0 || olderThan !== undefined || since !== undefined))
    throw new UsageError('--all takes every entry: leave out --reason, --older-than and --since, or --all')
  const now = Date.now()
  return entry => {
    const age = now - entry.quarantinedAt.getTime()
    return (
      (reasons.length === 0 || reasons.includes(entry.reason ?? '')) &&
      (olderThan === undefined || age > olderThan) &&
      (since === undefined || age <= since)
    )
  }
}
