import { plural, storeLine, UsageError, type Command } from '../context.js'
import { DURATION_UNITS, formatBytes, parseDuration } from '../units.js'

export const quarantine: Command = {
  name: 'quarantine',
  operands: Infinity,
  usage: 'quarantine [list | restore [--force] <id>... | purge <id>... | purge --older-than 90d]',
  summary: 'what repairs took out of the store: list, restore or purge it',
  help: 'A repair never deletes a damaged object: it moves it to the quarantine ({root}/.quarantine, or\n' +
    '{prefix}.quarantine/ on S3). `restore` puts an object back under its name (if no object is there\n' +
    'now); bytes that do not match their name are refused (exit 4) unless --force. A misnamed file goes\n' +
    'back under the name it had. `purge` deletes it for good. Ids are the names `list` prints.\n' +
    `Durations (--older-than): ${DURATION_UNITS}.`,
  options: { 'older-than': { type: 'string' }, force: { type: 'boolean' } },
  async run (cli) {
    const storage = cli.storage()
    const held = storage.quarantine
    if (held === undefined) throw new UsageError(`the ${storage.driver} driver keeps no quarantine`)
    const [action = 'list', ...ids] = cli.positionals
    if (action === 'list') {
      const entries = []
      let bytes = 0
      for await (const entry of held.list()) {
        entries.push(entry)
        bytes += entry.size
      }
      cli.out(`${plural(entries.length, 'object')} in quarantine, ${formatBytes(bytes)}` + entries.map(e => `\n  ${e.id}  ${e.size} bytes  ${e.reason ?? ''}${e.originalKey === undefined ? '' : ` (was ${e.originalKey})`}`).join('') + `\n${storeLine(storage)}`,
        { objects: entries.length, bytes, entries, store: storage.location })
      return 0
    }
    if (action !== 'restore' && action !== 'purge') throw new UsageError(`unknown action ${action}: list, restore or purge`)
    const olderThan = cli.string('older-than') === undefined ? undefined : parseDuration(cli.string('older-than')!, '--older-than')
    if (olderThan !== undefined && action === 'purge') {
      for await (const entry of held.list()) if (Date.now() - entry.quarantinedAt.getTime() > olderThan) ids.push(entry.id)
    } else if (ids.length === 0) throw new UsageError(`${action} needs the ids that \`sai-images quarantine list\` prints`)
    const done: string[] = []
    const refused: string[] = []
    const why = new Map<string, string>()
    const force = cli.flags.force === true
    for (const id of ids) {
      try {
        (await (action === 'restore' ? held.restore(id, { force }) : held.purge(id)) ? done : refused).push(id)
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_INTEGRITY') throw err
        refused.push(id)
        why.set(id, (err as Error).message)
      }
    }
    const verb = action === 'restore' ? 'restored' : 'purged'
    const reason = (id: string): string => why.get(id) ?? (action === 'restore' ? 'an object is under its name, or no such entry' : 'no such entry')
    cli.out(`${plural(done.length, 'object')} ${verb}` + refused.map(id => `\n  not ${verb}: ${id} (${reason(id)})`).join('') + `\n${storeLine(storage)}`,
      { [verb]: done, refused, ...(why.size === 0 ? {} : { reasons: Object.fromEntries(why) }), store: storage.location })
    if (why.size > 0) return 4
    return refused.length > 0 ? 1 : 0
  }
}
