import { plural, storeLine, UsageError, type Command } from '../context.js'
import { DURATION_UNITS, formatBytes, parseDuration } from '../units.js'

export const quarantine: Command = {
  name: 'quarantine',
  operands: Infinity,
  usage: 'quarantine [list | restore <id>... | purge <id>... | purge --older-than 90d]',
  summary: 'what repairs took out of the store: list, restore or purge it',
  help: 'A repair never deletes a damaged object: it moves it to the quarantine ({root}/.quarantine, or\n' +
    '{prefix}.quarantine/ on S3). `restore` puts an object back under its name (if no object is there\n' +
    'now); `purge` deletes it for good. Ids are the names `list` prints.\n' +
    `Durations (--older-than): ${DURATION_UNITS}.`,
  options: { 'older-than': { type: 'string' } },
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
      cli.out(`${plural(entries.length, 'object')} in quarantine, ${formatBytes(bytes)}` + entries.map(e => `\n  ${e.id}  ${e.size} bytes  ${e.reason ?? ''}`).join('') + `\n${storeLine(storage)}`,
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
    for (const id of ids) (await held[action](id) ? done : refused).push(id)
    const verb = action === 'restore' ? 'restored' : 'purged'
    cli.out(`${plural(done.length, 'object')} ${verb}` + refused.map(id => `\n  not ${verb}: ${id} (${action === 'restore' ? 'an object is under its name, or no such entry' : 'no such entry'})`).join('') + `\n${storeLine(storage)}`,
      { [verb]: done, refused, store: storage.location })
    return refused.length > 0 ? 1 : 0
  }
}
