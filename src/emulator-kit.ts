/**
 * The emulator kit: what the emulators (NCP STS, MongoDB Cloud Manager, Secrets Manager) share.
 * A real HTTP server on loopback ({@link serveOnLoopback}), reading a body ({@link readBody}), and
 * what tests drive and read ({@link EmulatorKit}): a fault queue (429/5xx answered with the
 * protocol's own error body, dropped connections, apply-then-drop), injected latency, a request
 * log and counts per operation. The protocol (routes, bodies, auth, state) lives in each emulator.
 *
 * Adopting it in an emulator: hold one `EmulatorKit<YourOp>`; in the handler,
 * `const rec = await kit.begin(op)`, then `const fault = kit.take(op)`: `drop` → destroy the
 * socket; `reply` → answer your protocol's error for `fault.status`/`fault.type`; set
 * `rec.status` (and `rec.error`) when answering. Expose `kit.faults`, `kit.requests`,
 * `kit.count`, `kit.counts`, `kit.dropConnections` and `latencyMs` on the emulator's handle.
 *
 * Triggers ({@link RequestTriggers}, also on every kit): an emulator announces each request when
 * it is received and again once it has taken effect; a test's listener may act then (e.g.
 * SIGKILL the rotator) and hold the answer until it is done. Crash tests use this to stop the
 * client at an exact step from the server side, without failpoints in product code.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackServer {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** Stops listening and destroys open (keep-alive) connections, so tests and Ctrl-C never hang. */
  close(): Promise<void>;
}

/**
 * Serves `handle` on 127.0.0.1 (`port` 0: any free port). A handler that throws has its
 * connection destroyed, as a crashed server's would be.
 */
export async function serveOnLoopback(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  port = 0,
): Promise<LoopbackServer> {
  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The whole request body. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * A fault an emulator plays instead of (or around) its normal answer. Generic over the
 * emulator's operation names so each emulator keeps its own vocabulary.
 *
 * - `reply` (default): answer `status` with the emulator's own error body for it (the protocol's
 *   shape: awsJson `__type`, Atlas `errorCode`, NCP XML…), `retryAfterSec` as Retry-After.
 * - `drop`: destroy the connection without an answer (the client sees a reset).
 * - `apply-then-drop`: perform the request, then destroy the connection before answering (the
 *   server did it; the client cannot know).
 */
export interface KitFault<Op extends string = string> {
  kind?: 'reply' | 'drop' | 'apply-then-drop';
  /** HTTP status of a `reply` fault (429, 5xx, or a protocol-specific 4xx). */
  status?: number;
  /** A protocol-specific error name (e.g. AWS `AccessDeniedException`), for the emulator's body. */
  type?: string;
  retryAfterSec?: number;
  /** How many matching requests get the fault. */
  times: number;
  /** Let this many matching requests through first (fail the second of two calls). */
  skip?: number;
  /** Only this operation; every operation when absent. */
  operation?: Op;
}

/** One request as an emulator saw it. */
export interface KitRequest<Op extends string = string> {
  operation: Op | string;
  /** 0 when the connection was dropped without an answer; otherwise the HTTP status. */
  status: number;
  /** The protocol's error name when it failed. */
  error?: string;
  /** The resource the request addressed, when it named one (never a secret value). */
  resource?: string;
}

/**
 * When a request is announced: `received` (read, before the emulator acts or answers) or
 * `applied` (it succeeded and changed or read the emulator's state; the answer is not sent yet).
 */
export type KitPhase = 'received' | 'applied';

/** A request as announced to triggers. Never carries a secret value. */
export interface KitEvent<Op extends string = string> {
  operation: Op | string;
  phase: KitPhase;
  /** The resource the request addressed (secret name, secret id, client id), when it named one. */
  resource?: string;
  /** Non-secret labels of the request, e.g. the Secrets Manager stages it writes or moves. */
  labels?: readonly string[];
}

/**
 * A listener for announced requests. The emulator awaits it before going on, so a returned
 * promise holds the request (its effect for `received`, its answer for `applied`) until it
 * settles. A listener that throws destroys the connection unanswered.
 */
export type KitListener<Op extends string = string> = (event: KitEvent<Op>) => void | Promise<void>;

/**
 * The triggers of one emulator: listeners per operation and phase, called in the order they
 * were added, one at a time.
 */
export class RequestTriggers<Op extends string = string> {
  private readonly listeners: { operation: Op | '*'; phase: KitPhase; listener: KitListener<Op> }[] = [];

  /**
   * Calls `listener` for every request for `operation` (`'*'`: any) announced in `phase`, until
   * the returned function is called.
   */
  on(operation: Op | '*', phase: KitPhase, listener: KitListener<Op>): () => void {
    const entry = { operation, phase, listener };
    this.listeners.push(entry);
    return () => {
      const i = this.listeners.indexOf(entry);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Announces a request; resolves when every matching listener has (emulators await this). */
  async emit(event: KitEvent<Op>): Promise<void> {
    const matching = this.listeners.filter(
      (l) => l.phase === event.phase && (l.operation === '*' || l.operation === event.operation),
    );
    for (const { listener } of matching) await listener(event);
  }
}

/**
 * The fault queue, latency, request log and counts every emulator offers tests, in one place.
 * An emulator's handler calls {@link EmulatorKit.begin} first (records the request, waits the
 * latency) and {@link EmulatorKit.take} where a fault may apply; the rest is its protocol.
 *
 * Faults are consumed in the order they were queued, first matching wins; `times` counts down
 * and a spent fault leaves the queue.
 */
export class EmulatorKit<Op extends string = string> extends RequestTriggers<Op> {
  readonly faults: KitFault<Op>[] = [];
  readonly requests: KitRequest<Op>[] = [];
  latencyMs: number;

  constructor(options: { latencyMs?: number } = {}) {
    super();
    this.latencyMs = options.latencyMs ?? 0;
  }

  /** Queues a fault; returns the kit so tests can chain. */
  fail(fault: KitFault<Op>): this {
    this.faults.push(fault);
    return this;
  }

  /** The next `n` requests (for `operation`, or any) get their connection destroyed unanswered. */
  dropConnections(n: number, operation?: Op): void {
    this.faults.push({ kind: 'drop', times: n, ...(operation ? { operation } : {}) });
  }

  /** Records the request (status 0 until answered) and waits the injected latency. */
  async begin(operation: Op | string): Promise<KitRequest<Op>> {
    const record: KitRequest<Op> = { operation, status: 0 };
    this.requests.push(record);
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs).unref());
    return record;
  }

  /**
   * The fault that applies to this request, consumed: of `kind` (e.g. `apply-then-drop` after a
   * write succeeded), or by default any `reply`/`drop` fault.
   */
  take(operation: Op | string, kind?: KitFault['kind']): KitFault<Op> | undefined {
    const fault = this.faults.find(
      (f) =>
        f.times > 0 &&
        (!f.operation || f.operation === operation) &&
        (kind ? (f.kind ?? 'reply') === kind : (f.kind ?? 'reply') !== 'apply-then-drop'),
    );
    if (!fault) return undefined;
    if (fault.skip) {
      fault.skip--;
      return undefined;
    }
    fault.times--;
    if (fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault;
  }

  /** Requests received for `operation` (all when absent), answered or not. */
  count(operation?: string): number {
    return this.requests.filter((r) => !operation || r.operation === operation).length;
  }

  /** Requests per operation. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests) out[r.operation] = (out[r.operation] ?? 0) + 1;
    return out;
  }
}
