/** A TCP proxy on loopback in front of a server (an S3 gateway): stopped, the server is unreachable; started, back. */
import { connect, createServer, type Server, type Socket } from 'node:net'
import { freePort } from '../setup/services.js'

export interface TcpProxy {
  /** `http://127.0.0.1:{port}`: the same port whether it listens or not. */
  endpoint: string
  start: () => Promise<void>
  stop: () => Promise<void>
}

/** Listens at once, in front of `target` (a URL). */
export async function tcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port: targetPort } = new URL(target)
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | undefined
  const start = async (): Promise<void> => {
    server = createServer(socket => {
      const upstream = connect(Number(targetPort || 80), hostname)
      for (const s of [socket, upstream]) {
        sockets.add(s)
        s.on('close', () => sockets.delete(s)).on('error', () => {
          socket.destroy()
          upstream.destroy()
        })
      }
      socket.pipe(upstream).pipe(socket)
    })
    await new Promise<void>(resolve => server!.listen(port, '127.0.0.1', resolve))
  }
  await start()
  return {
    endpoint: `http://127.0.0.1:${port}`,
    start,
    stop: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server!.close(resolve))
    }
  }
}
