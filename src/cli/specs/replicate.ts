/** What the parser and the help know at start; the work (commands/replicate.ts) loads when the command runs. */
import type { Command } from '../context.js'
import { DURATION_UNITS } from '../units.js'

const METRICS_OPTIONS = { 'metrics-port': { type: 'string' }, 'metrics-address': { type: 'string' } } as const

export const replicate: Command = {
  name: 'replicate',
  usage:
    'replicate [--watch] [--reconcile-every 24h] [--watch-every 5s] [--watch-folders N] ' +
    '[--metrics-port N | --metrics-address host:port] [--no-reconcile] [--wait] | replicate --health',
  summary: 'copy what the outbox holds to the replicas, then reconcile',
  help:
    'Drains the outbox (every store records there what remains to copy), then reconciles: the\n' +
    'listings of every copy compared, what a replica lacks queued and copied (no request per\n' +
    'object). --watch keeps doing it as a service (see examples/systemd), reconciling at start and\n' +
    'every --reconcile-every, and finds within --watch-every (5 s) the frames other processes put\n' +
    'into the primary (storage.py, rsync, a rename), which no outbox names: by one inotifywait child\n' +
    '(Debian package inotify-tools) watching the layout if installed, else by a stat of every shard\n' +
    "folder each --watch-every; --watch-folders N takes Node's own inotify watches on N folders\n" +
    'instead (0: stat passes only; see docs/replication.md). Ctrl-C stops it (exit 130), SIGTERM\n' +
    'too (exit 0: a service stopped as asked). Exit 1 if something is left, or a frame is lost.\n' +
    'One copier at a time: while another (a --watch service) holds the lock, exit 75 and say which\n' +
    'process, or with --wait wait for it.\n' +
    '--health answers for a monitor: exit 0 if the watcher passed within 3 --watch-every + 10 s,\n' +
    'runs and can read every folder, else 1 (stale; stopped: by SIGTERM or Ctrl-C, or its process\n' +
    'gone on this host; or failing).\n' +
    '--metrics-port N serves Prometheus metrics at http://127.0.0.1:N/metrics (loopback only);\n' +
    '--metrics-address host:port listens elsewhere (0.0.0.0:9465). Needs prom-client; see\n' +
    'docs/observability.md and examples/grafana.\n' +
    `Durations: ${DURATION_UNITS}.`,
  options: {
    concurrency: { type: 'string' },
    watch: { type: 'boolean' },
    'reconcile-every': { type: 'string' },
    'no-reconcile': { type: 'boolean' },
    'watch-every': { type: 'string' },
    'watch-folders': { type: 'string' },
    health: { type: 'boolean' },
    wait: { type: 'boolean' },
    ...METRICS_OPTIONS
  },
  run: async cli => await (await import('../commands/index.js')).replicate(cli)
}
