import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import type { Plugin } from 'esbuild'
import { defineConfig } from 'tsup'

/** Each entry point: its file in dist, named for its subpath in package.json "exports" (`index` for `.`). */
const entry = {
  index: 'src/index.ts',
  'drivers/fs': 'src/drivers/fs/index.ts',
  'drivers/memory': 'src/drivers/memory/index.ts',
  'drivers/s3': 'src/drivers/s3/index.ts',
  'drivers/ipfs': 'src/drivers/ipfs/index.ts',
  replication: 'src/features/replication/index.ts',
  retention: 'src/features/retention/index.ts',
  jobs: 'src/features/jobs/index.ts',
  variants: 'src/features/variants/index.ts',
  dashboard: 'src/features/dashboard/backfill.ts',
  testing: 'src/testing/index.ts',
  adapter: 'src/adapter.ts'
}

/**
 * Writes each entry point's CommonJS file: one line that hands out the entry's namespace of the one
 * CommonJS bundle (src/commonjs.ts), so a class required from two subpaths is the same class.
 */
const commonjsEntries: Plugin = {
  name: 'commonjs-entries',
  setup(build) {
    const out = build.initialOptions.outdir ?? 'dist'
    build.onEnd(async () => {
      for (const name of Object.keys(entry)) {
        const file = join(out, `${name}.cjs`)
        const subpath = name === 'index' ? '.' : `./${name}`
        const bundle = relative(dirname(file), join(out, 'commonjs.cjs'))
        const line = `module.exports = require('${bundle.startsWith('.') ? bundle : `./${bundle}`}')['${subpath}']`
        await mkdir(dirname(file), { recursive: true })
        const comment = `// sai-image-storage${subpath.slice(1)} for require(): see src/commonjs.ts`
        await writeFile(file, `'use strict'\n${comment}\n${line}\n`)
      }
    })
  }
}

// keepNames: class names survive the bundle (`InvalidInputError`, not `_InvalidInputError`), in
// `err.name` and in stack traces
export default defineConfig([
  // ESM: one file per entry point, shared chunks, so each class exists once.
  // __COMMONJS__: which way the optional peers load (src/core/optional-peer.ts)
  {
    entry,
    format: 'esm',
    dts: true,
    splitting: true,
    sourcemap: true,
    target: 'node20',
    keepNames: true,
    define: { __COMMONJS__: 'false' }
  },
  // CommonJS: one bundle, and per entry point a one-line file and its types. Not split into chunks
  // instead: tsup's CJS splitting rewrites the import() that loads the ESM-only kubo-rpc-client
  // into a require() that Node 20 refuses. multiformats and p-limit (with its yocto-queue) are
  // ESM-only as well: they are bundled in.
  {
    entry: { commonjs: 'src/commonjs.ts' },
    format: 'cjs',
    dts: { entry },
    splitting: false,
    sourcemap: true,
    target: 'node20',
    keepNames: true,
    noExternal: [/^multiformats/, /^p-limit$/, /^yocto-queue$/],
    define: { __COMMONJS__: 'true' },
    esbuildPlugins: [commonjsEntries]
  },
  // the sai-images command; a young generation of 2 MB semi-spaces (16 by default) keeps a walk of
  // a million objects under 150 MB of RSS, and is as fast (bench/RESULTS-scale.md)
  {
    entry: { cli: 'src/cli/index.ts' },
    format: 'esm',
    splitting: true,
    sourcemap: true,
    target: 'node20',
    keepNames: true,
    // the commands' work, with the factory and the drivers, is one chunk imported when a command runs
    // (src/cli/specs/index.ts); the chunks in dist/cli/, apart from the library's
    esbuildOptions(options) {
      options.chunkNames = 'cli/[name]-[hash]'
    },
    // bundled in (as in the CommonJS bundle): 13 ES modules fewer to resolve and load at every start
    noExternal: [/^multiformats/, /^p-limit$/, /^yocto-queue$/],
    // a small young generation keeps a 1M-object walk's peak RSS flat (bench/RESULTS-scale.md); not
    // --optimize-for-size: it cost a drain 2-4% of its time and the scale targets hold without it
    // (bench/RESULTS-replication-cli.md, 2026-12-05)
    banner: { js: '#!/usr/bin/env -S node --max-semi-space-size=2' },
    define: { __COMMONJS__: 'false' }
  }
])
