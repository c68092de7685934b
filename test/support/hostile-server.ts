import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';

/**
 * A hostile fake server on loopback for provider boundary tests: it answers whatever the test
 * says (drips, bombs, truncated JSON). `close()` destroys every open connection, so a dripping
 * answer never outlives the test.
 */
export interface HostileServer {
  readonly url: string;
  /** Requests received, in order: method and path. */
  readonly requests: { method: string; path: string }[];
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export async function hostileServer(handler: Handler): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  const requests: { method: string; path: string }[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0]! });
    req.resume();
    req.on('end', () => handler(req, res));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Sends 200 headers, then one byte every `everyMs` forever: until the client gives up, or close()
 * destroys the connection (which closes `res` and stops the timer).
 */
export function drip(res: ServerResponse, everyMs = 50): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.write('{');
  const timer = setInterval(() => res.write(' '), everyMs);
  res.on('close', () => clearInterval(timer));
}

/** 16 MiB of spaces (16 times the cap) compressed to about 16 KiB; made once. */
let bomb: Buffer | undefined;

/** A gzip bomb: an answer that inflates to 16 MiB. */
export function gzipBomb(res: ServerResponse): void {
  const body = (bomb ??= gzipSync(Buffer.alloc(16 * 1024 * 1024, ' ')));
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': body.length });
  res.end(body);
}

/** A JSON answer with the given status. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
