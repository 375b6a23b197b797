// builds the CLI as tsup does (cli entry), into OUT/dist, from SRC
import { build } from 'esbuild'
import { cpSync, mkdirSync, symlinkSync, rmSync } from 'node:fs'
const [src, out, bundleAll] = process.argv.slice(2)
rmSync(out, { recursive: true, force: true })
mkdirSync(out + '/dist', { recursive: true })
cpSync('package.json', out + '/package.json')
symlinkSync('/work/wt-lazycli/node_modules', out + '/node_modules')
const external = ['@aws-sdk/client-s3', '@aws-sdk/s3-request-presigner', 'kubo-rpc-client', 'ipfs-unixfs-importer', 'sharp', 'pg', 'prom-client']
if (bundleAll !== 'bundle') external.push('multiformats', 'multiformats/*', 'p-limit')
await build({ entryPoints: { cli: src + '/cli/index.ts' }, outdir: out + '/dist', bundle: true, format: 'esm', platform: 'node',
  target: 'node20', splitting: true, keepNames: true, external, chunkNames: 'cli/[name]-[hash]',
  banner: { js: '#!/usr/bin/env -S node --max-semi-space-size=2' } })
