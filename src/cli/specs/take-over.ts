/** What the parser and the help know at start; the work (commands/take-over.ts) loads when the command runs. */
import type { Command } from '../context.js'

export const takeOverCommand: Command = {
  name: 'take-over',
  usage: 'take-over [--from <host id>]',
  summary: "make this primary its replicas' owner (a rebuilt host)",
  help:
    'A replica belongs to one primary (docs/replication.md#one-primary-per-replica): another host\n' +
    "writing to it gets ERR_CONFIG (exit 6) naming the owner. When the owner's disk died and this\n" +
    'host replaces it (a new state folder, so a new host id), take its replicas over with --from\n' +
    'and the old host id that the refusal named; then restore: sai-images verify --repair --force.\n' +
    'Without --from, says who owns each replica and changes nothing (exit 2 if another host owns\n' +
    "one). A replica owned by a host other than --from's is left as it is (exit 6). The old host, if\n" +
    'it comes back, is refused from then on (a running one within a minute). Run it on the new host.\n' +
    'Two take-overs of one replica at the same moment: exactly one wins (the mark is swapped only if\n' +
    'it is still the one read); the other exits 6 naming the winner. Works on fs, S3 and IPFS replicas.',
  options: { from: { type: 'string' } },
  run: async cli => await (await import('../commands/index.js')).takeOverCommand(cli)
}
