// bench/RESULTS.md from the results object: machine, date, targets, then every figure.
const KB = 1024
const size = bytes => (bytes >= KB * KB ? `${bytes / KB / KB} MB` : `${bytes / KB} KB`)

function table(headers, rows) {
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map(r => `| ${r.join(' | ')} |`)
  ].join('\n')
}

export function report(r) {
  const m = r.machine
  const out = [
    `# Benchmark results${r.quick ? ' (quick run)' : ''}`,
    '',
    `- date: ${r.date}${
      r.sectionDates === undefined
        ? ''
        : `; sections run again since: ${Object.entries(r.sectionDates)
            .map(([name, date]) => `${name} on ${date}`)
            .join(', ')}`
    }`,
    `- machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB (${m.freeGB} GB free), ${m.platform}, filesystem ` +
      `${m.filesystem}`,
    `- node: ${m.node}`,
    '- method: each ratio compares candidates measured in interleaved rounds in this run (median round each); ' +
      'ops/s are per process.',
    '',
    '## Targets',
    '',
    table(
      ['target', 'measured', 'wanted', 'met'],
      r.targets.map(t => [t.name, t.value, t.limit, t.met ? 'yes' : '**no**' + (t.note ? ` (${t.note})` : '')])
    )
  ]
  if (r.sections.python) {
    out.push(
      '',
      '## Against the Python module we replace (sequential, ops/s)',
      '',
      `The module that ran: ${r.sections.pythonPeer ?? "storage.py's algorithm, re-implemented"} (bench/storage_py_peer.py; ` +
        'store: SHA-256, exists, aiofiles write to {hash}.tmp, rename; fetch: exists, aiofiles read; no fsync, ' +
        'nothing verified), each phase timed inside ' +
        'its process. Ours: store without fsync, duplicate store (compares the bytes), verified fetch, durable ' +
        'store; the fair durable loop also fsyncs the parents of the directories it makes. Empty: no shard ' +
        'directory exists; warm: they all do. Median of 4 rounds (8 for the durable pair, which swings most); ' +
        'each phase and its Python peer run in turn, in alternating order, each after a `sync` (no writeback ' +
        'left over from the other). Node read + SHA-256: the floor of a verified fetch in Node (readFileSync of ' +
        'our stored file and its SHA-256), in turn with the fetches; its ratio is to the Python fetch.',
      '',
      table(
        [
          'frame',
          'store',
          'python store',
          'ours no fsync',
          'ratio',
          'python duplicate',
          'ours duplicate',
          'ratio',
          'python fetch',
          'ours fetch',
          'ratio',
          'Node read + SHA-256',
          'ratio',
          'fair durable loop',
          'ours durable',
          'ratio'
        ],
        r.sections.python.map(x => [
          size(x.size),
          x.regime,
          x.opsPerSec.pythonStore,
          x.opsPerSec.storeNoFsync,
          x.ratios.storeNoFsyncVsPython,
          x.opsPerSec.pythonDuplicate,
          x.opsPerSec.duplicate,
          x.ratios.duplicateVsPython,
          x.opsPerSec.pythonFetch,
          x.opsPerSec.fetch,
          x.ratios.fetchVsPython,
          x.opsPerSec.nodeReadAndHash ?? '',
          x.ratios.floorVsPython ?? '',
          x.opsPerSec.fairDurable,
          x.opsPerSec.storeDurable,
          x.ratios.durableVsFairLoop
        ])
      )
    )
  }
  if (r.sections.eventLoop) {
    out.push(
      '',
      '## Event-loop delay while 16 stores or 16 fetches run (ms, `monitorEventLoopDelay`, resolution 1 ms; ' +
        'median of 3 rounds)',
      '',
      'Bare: 16 `fs.promises.writeFile` / `readFile` of the same bytes, in alternating rounds: what the ' +
        'machine adds (the thread pool competes with the loop for 2 cores). Bare writes + SHA-256: the same ' +
        'writes with the bytes hashed on the loop beside them, a 256 KiB slice per turn, as a store hashes.',
      '',
      table(
        [
          'frame',
          'SHA-256 of it',
          'stores: mean',
          'p99',
          'max',
          'bare writes: max',
          'bare writes + SHA-256 on the loop: max',
          'fetches: mean',
          'p99',
          'max',
          'bare reads: max'
        ],
        r.sections.eventLoop.map(x => [
          size(x.size),
          x.hashMs,
          x.stores.meanMs,
          x.stores.p99Ms,
          x.stores.maxMs,
          x.bareWrites?.maxMs,
          x.bareWritesHashed?.maxMs ?? '',
          x.fetches.meanMs,
          x.fetches.p99Ms,
          x.fetches.maxMs,
          x.bareReads?.maxMs
        ])
      )
    )
  }
  if (r.history) {
    out.push('', '## Before and after', '', ...r.history.map(h => `- ${h}`))
  }
  const fs = r.sections.filesystem
  if (fs) {
    out.push(
      '',
      '## Filesystem driver against the limit',
      '',
      'ops/s (mean ms). Limit loops: SHA-256, temp file, [fsync], rename, [fsync dir]; limits for reads: ' +
        'readFile + SHA-256, readFile, SHA-256 alone.',
      '',
      table(
        [
          'size',
          'conc.',
          'store durable',
          'limit durable',
          'ratio',
          'store no fsync',
          'limit plain',
          'ratio',
          'duplicate',
          'SHA-256 alone',
          'time ratio',
          'fetch',
          'readFile+SHA-256',
          'time ratio',
          'readFile',
          'fetchStream',
          'exists hit',
          'exists miss'
        ],
        fs.map(x => [
          size(x.size),
          x.concurrency,
          ...['storeDurable', 'limitDurable'].map(k => `${x[k].opsPerSec} (${x[k].meanMs})`),
          x.ratios.durableVsLimit,
          ...['storeNoFsync', 'limitPlain'].map(k => `${x[k].opsPerSec} (${x[k].meanMs})`),
          x.ratios.noFsyncVsLimit,
          ...['duplicate', 'hashAlone'].map(k => `${x[k].opsPerSec} (${x[k].meanMs})`),
          x.ratios.duplicateVsHash,
          ...['fetch', 'readFileAndHash'].map(k => `${x[k].opsPerSec} (${x[k].meanMs})`),
          x.ratios.fetchVsReadAndHash,
          ...['readFile', 'fetchStream', 'existsHit', 'existsMiss'].map(k => `${x[k].opsPerSec} (${x[k].meanMs})`)
        ])
      )
    )
  }
  if (r.sections.cacache) {
    out.push(
      '',
      '## Against cacache (sequential, ops/s)',
      '',
      'cacache `put` (sha256) and `get.byDigest`. cacache does not fsync: compare it with our store without fsync.',
      '',
      table(
        [
          'size',
          'ours durable',
          'ours no fsync',
          'cacache put',
          'no-fsync ratio',
          'durable ratio',
          'ours fetch',
          'cacache get',
          'fetch ratio'
        ],
        r.sections.cacache.map(x => [
          size(x.size),
          x.opsPerSec.oursDurable,
          x.opsPerSec.oursNoFsync,
          x.opsPerSec.cacachePut,
          x.ratios.storeNoFsyncVsCacache,
          x.ratios.storeDurableVsCacache,
          x.opsPerSec.oursFetch,
          x.opsPerSec.cacacheGet,
          x.ratios.fetchVsCacache
        ])
      )
    )
  }
  if (r.sections.memory) {
    out.push(
      '',
      '## Memory',
      '',
      table(
        ['operation', 'stream', 'baseline RSS', 'peak RSS', 'growth'],
        Object.values(r.sections.memory).map(x => [
          x.mode,
          `${x.megabytes} MB`,
          `${x.baselineMB} MB`,
          `${x.peakMB} MB`,
          `${x.growthMB} MB`
        ])
      )
    )
  }
  if (r.sections.scale) {
    const s = r.sections.scale
    out.push(
      '',
      '## Latency at scale (mean ms, sequential; objects aged past a minute, so a fetch reads through the thread pool)',
      '',
      table(
        ['objects', 'exists hit', 'exists miss', 'fetch (2 KB)'],
        [
          [s.objects[0], s.at10k.existsHit, s.at10k.existsMiss, s.at10k.fetch],
          [s.objects[1], s.at200k.existsHit, s.at200k.existsMiss, s.at200k.fetch]
        ]
      )
    )
  }
  if (r.sections.bulk) {
    out.push(
      '',
      '## Bulk import (`sai-images import`, durable, 64 KB files)',
      '',
      table(
        ['files', 'concurrency', 'seconds', 'files/s', 'MB/s'],
        r.sections.bulk.map(x => [x.files, x.concurrency, x.seconds, x.filesPerSec, x.MBPerSec])
      )
    )
  }

  if (r.sections.s3) {
    out.push(
      '',
      '## S3 driver against the bare SDK (same Ceph RADOS Gateway, same bytes; ops/s)',
      '',
      'The driver hashes (SHA-256, MD5), sends Content-MD5 and `If-None-Match: *`; fetches re-hash. Ratios are ' +
        'time per operation, driver / bare.',
      '',
      table(
        ['size', 'conc.', 'driver store', 'bare PutObject', 'ratio', 'driver fetch', 'bare GetObject', 'ratio'],
        r.sections.s3.map(x => [
          size(x.size),
          x.concurrency,
          x.opsPerSec.driverStore,
          x.opsPerSec.barePut,
          x.ratios.store,
          x.opsPerSec.driverFetch,
          x.opsPerSec.bareGet,
          x.ratios.fetch
        ])
      )
    )
  }
  if (r.sections.s3Nagle) {
    out.push(
      '',
      "A second gateway on the same cluster left at Ceph's default, Nagle's algorithm on (the one above has " +
        '`tcp_nodelay=1`, as docs/drivers/s3.md advises): lone fetches, ms. Not a target: a GET whose last partial ' +
        "segment waits for the client's delayed ACK takes 40 ms more, at some sizes and not others, for any client.",
      '',
      table(
        ['size', 'driver ops/s', 'mean', 'p50', 'p99', 'bare ops/s', 'mean', 'p50', 'p99'],
        r.sections.s3Nagle.map(x => [
          size(x.size),
          ...['driverFetch', 'bareGet'].flatMap(k => [x[k].opsPerSec, x[k].meanMs, x[k].p50Ms, x[k].p99Ms])
        ])
      )
    )
  }
  return out.join('\n') + '\n'
}
