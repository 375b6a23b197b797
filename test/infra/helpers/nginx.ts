import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureDebianPackages, freePort, waitFor } from '../setup/services.js'
import { tempDir } from './tmp.js'

export interface Nginx {
  url: string
  stop: () => Promise<void>
}

/**
 * Debian's nginx in the foreground on a free loopback port, with `server` (a server block's
 * inside, `{port}` already filled in) as its only site; workers run as www-data when we are root,
 * as in production.
 */
export async function startNginx(server: (port: number) => string): Promise<Nginx> {
  ensureDebianPackages('/usr/sbin/nginx', ['nginx-light'], 'the nginx tests')
  const dir = await tempDir('sai-nginx')
  await chmod(dir, 0o755)
  await mkdir(join(dir, 'temp'))
  const port = await freePort()
  const user = process.getuid?.() === 0 ? 'user www-data;' : ''
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map(t => `${t}_temp_path ${join(dir, 'temp', t)};`)
    .join('\n  ')
  await writeFile(
    join(dir, 'nginx.conf'),
    `daemon off;
${user}
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  ${temps}
  server {
    listen 127.0.0.1:${port};
    ${server(port)}
  }
}
`
  )
  const child: ChildProcess = spawn('/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr?.on('data', d => {
    stderr += d
  })
  const url = `http://127.0.0.1:${port}`
  try {
    await waitFor(
      'nginx',
      async () => {
        if (child.exitCode !== null)
          throw new Error(`nginx exited: ${stderr}${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`)
        return (await fetch(url).catch(() => undefined)) !== undefined
      },
      10_000
    )
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGQUIT')
      await exited
    }
  }
}
