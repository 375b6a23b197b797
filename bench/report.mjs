// bench/RESULTS.md from the results object: machine, date, targets, then every figure.
const KB = 1024
const size = bytes => bytes >= KB * KB ? `${bytes / KB / KB} MB` : `${bytes / KB} KB`

function table (headers, rows) {
  return [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map(r => `| ${r.join(' | ')} |`)].join('\n')
}

export function report (r) {
  const m = r.machine
  const out = [
    `# Benchmark results${r.quick ? ' (quick run)' : ''}`,
    '',
    `- date: ${r.date}`,
    `- machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB (${m.freeGB} GB free), ${m.platform}, filesystem ${m.filesystem}`,
    `- node: ${m.node}`,
    '- method: each ratio compares candidates measured in interleaved rounds in this run (median round each); ops/s are per process.',
    '',
    '## Targets',
    '',
    table(['target', 'measured', 'wanted', 'met'], r.targets.map(t => [t.name, t.value, t.limit, t.met ? 'yes' : '**no**' + (t.note ? ` (${t.note})` : '')]))
  ]
  const fs = r.sections.filesystem
  if (fs) {
    out.push('', '## Filesystem driver against the limit', '', 'ops/s (mean ms). Limit loops: SHA-256, temp file, [fsync], rename, [fsync dir]; limits for reads: readFile + SHA-256, readFile, SHA-256 alone.', '',
      table(['size', 'conc.', 'store durable', 'limit durable', 'ratio', 'store no fsync', 'limit plain', 'ratio', 'duplicate', 'SHA-256 alone', 'time ratio', 'fetch', 'readFile+SHA-256', 'time ratio', 'readFile', 'fetchStream', 'exists hit', 'exists miss'],
        fs.map(x => [size(x.size), x.concurrency,
          ...['storeDurable', 'limitDurable'].map(k => `${x[k].opsPerSec} (${x[k].meanMs})`), x.ratios.durableVsLimit,
          ...['storeNoFsync', 'limitPlain'].map(k => `${x[k].opsPerSec} (${x[k].meanMs})`), x.ratios.noFsyncVsLimit,
          ...['duplicate', 'hashAlone'].map(k => `${x[k].opsPerSec} (${x[k].meanMs})`), x.ratios.duplicateVsHash,
          ...['fetch', 'readFileAndHash'].map(k => `${x[k].opsPerSec} (${x[k].meanMs})`), x.ratios.fetchVsReadAndHash,
          ...['readFile', 'fetchStream', 'existsHit', 'existsMiss'].map(k => `${x[k].opsPerSec} (${x[k].meanMs})`)])))
  }
  if (r.sections.cacache) {
    out.push('', '## Against cacache (sequential, ops/s)', '', 'cacache `put` (sha256) and `get.byDigest`. cacache does not fsync: compare it with our store without fsync.', '',
      table(['size', 'ours durable', 'ours no fsync', 'cacache put', 'no-fsync ratio', 'durable ratio', 'ours fetch', 'cacache get', 'fetch ratio'],
        r.sections.cacache.map(x => [size(x.size), x.opsPerSec.oursDurable, x.opsPerSec.oursNoFsync, x.opsPerSec.cacachePut, x.ratios.storeNoFsyncVsCacache, x.ratios.storeDurableVsCacache, x.opsPerSec.oursFetch, x.opsPerSec.cacacheGet, x.ratios.fetchVsCacache])))
  }
  if (r.sections.memory) {
    out.push('', '## Memory', '', table(['operation', 'stream', 'baseline RSS', 'peak RSS', 'growth'],
      Object.values(r.sections.memory).map(x => [x.mode, `${x.megabytes} MB`, `${x.baselineMB} MB`, `${x.peakMB} MB`, `${x.growthMB} MB`])))
  }
  if (r.sections.scale) {
    const s = r.sections.scale
    out.push('', '## Latency at scale (mean ms, sequential)', '', table(['objects', 'exists hit', 'exists miss', 'fetch (2 KB)'],
      [[s.objects[0], s.at10k.existsHit, s.at10k.existsMiss, s.at10k.fetch], [s.objects[1], s.at200k.existsHit, s.at200k.existsMiss, s.at200k.fetch]]))
  }
  if (r.sections.bulk) {
    out.push('', '## Bulk import (`sai-images import`, durable, 64 KB files)', '', table(['files', 'concurrency', 'seconds', 'files/s', 'MB/s'],
      r.sections.bulk.map(x => [x.files, x.concurrency, x.seconds, x.filesPerSec, x.MBPerSec])))
  }
  if (r.sections.ipfs) {
    out.push('', '## IPFS driver against the bare client (same node, same bytes; mean ms)', '', table(['size', 'driver store', 'bare add', 'ratio', 'driver fetch', 'bare cat', 'ratio'],
      r.sections.ipfs.map(x => [size(x.size), x.meanMs.driverStore, x.meanMs.bareAdd, x.ratios.store, x.meanMs.driverFetch, x.meanMs.bareCat, x.ratios.fetch])))
  }
  return out.join('\n') + '\n'
}
