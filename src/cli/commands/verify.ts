import { FilesystemDriver } from '../../../drivers/fs/index.js'
import { plural, UsageError, type Command } from '../context.js'

export const verify: Command = {
  name: 'verify',
  usage: 'verify [--repair]',
  summary: 're-hash every object; report bad objects and stray temps; exit 0 only if clean',
  help: 'With --repair, bad objects are moved to {root}/.quarantine and stray temps are removed.',
  options: { repair: { type: 'boolean', default: false } },
  async run (cli) {
    const store = cli.storage()
    if (!(store instanceof FilesystemDriver)) throw new UsageError('verify works on the filesystem driver')
    const repair = cli.flags.repair === true
    const result = await store.verify({ repair, concurrency: cli.concurrency() })
    const empty = result.rootExists === false ? ` (the root ${store.root} does not exist yet: nothing was stored)` : ''
    cli.out(`${plural(result.checked, 'object')} checked, ${result.bytes} bytes: ${result.problems.length === 0 ? 'clean' : `${plural(result.problems.length, 'problem')}${repair ? ', repaired' : ''}`}${empty}` +
      result.problems.map(p => `\n  ${p.reason.padEnd(10)} ${p.path}${p.movedTo === undefined ? '' : ` -> ${p.movedTo}`}`).join(''), result)
    return result.clean ? 0 : 1
  }
}
