// Preloaded into the service by bench/watch.mjs (NODE_OPTIONS=--import): every 5 s, where its RSS
// goes (process.memoryUsage() and V8's heap spaces), into the file BENCH_WATCH_MEMORY names.
import { writeFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'

const file = process.env.BENCH_WATCH_MEMORY
const MB = bytes => +(bytes / 2 ** 20).toFixed(1)
if (file !== undefined)
  setInterval(() => {
    const usage = Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, MB(v)]))
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map(s => [s.space_name, MB(s.physical_space_size)]))
    writeFileSync(file, JSON.stringify({ ...usage, spaces }))
  }, 5000).unref()
