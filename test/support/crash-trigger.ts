/**
 * Kills a spawned rotator from the server side: the moment an emulator announces a matching
 * request (see RequestTriggers in src/emulator-kit.ts), or a watched file appears or changes.
 * The request is held until the process is dead, so the rotator never reads the answer.
 */
import { watch, type FSWatcher } from 'node:fs';
import { access } from 'node:fs/promises';
import type { KitEvent, KitListener, KitPhase } from '../../src/emulator-kit';
import type { Daemon } from './daemon';

/** What the emulators' handles offer: `on(operation, phase, listener)` returning `off`. */
export interface Triggerable<Op extends string> {
  on(operation: Op | '*', phase: KitPhase, listener: KitListener<Op>): () => void;
}

/** A pending kill: `fired` resolves (naming what triggered it) as this trigger SIGKILLs the victim. */
export interface CrashTrigger {
  readonly fired: Promise<string>;
  /** Stops watching (idempotent); a trigger that never fired stays unresolved. */
  off(): void;
}

/** SIGKILLs `victim` and waits for its exit, so what comes next happens with the process gone. */
export async function killNow(victim: Daemon): Promise<void> {
  victim.child.kill('SIGKILL');
  await victim.exited;
}

/**
 * Kills `victim()` on the first request for `operation` in `phase` that `match` accepts, holding
 * that request until the process has exited. `victim` is read when the trigger fires, so the
 * trigger can be armed before the process is spawned.
 */
export function killOn<Op extends string>(
  emulator: Triggerable<Op>,
  operation: Op,
  phase: KitPhase,
  victim: () => Daemon | undefined,
  match: (event: KitEvent<Op>) => boolean = () => true,
): CrashTrigger {
  let done = false;
  let resolve!: (what: string) => void;
  const fired = new Promise<string>((r) => (resolve = r));
  const off = emulator.on(operation, phase, async (event) => {
    const target = victim();
    if (done || !target || !match(event)) return;
    done = true;
    off();
    resolve(`${event.operation} ${event.phase}`);
    await killNow(target);
  });
  return {
    fired,
    off: () => {
      done = true;
      off();
    },
  };
}

/**
 * Kills `victim()` when `name` is created or replaced in `folder` (a rename into place). This is
 * observation of the file system from the test, not a failpoint in the product.
 */
export function killOnFile(folder: string, name: string, victim: () => Daemon | undefined): CrashTrigger {
  let watcher: FSWatcher | undefined;
  let resolve!: (what: string) => void;
  const fired = new Promise<string>((r) => (resolve = r));
  watcher = watch(folder, (_event, file) => {
    const target = victim();
    if (!watcher || file !== name || !target) return;
    watcher.close();
    watcher = undefined;
    resolve(`${name} written`);
    void killNow(target);
  });
  return {
    fired,
    off: () => {
      watcher?.close();
      watcher = undefined;
    },
  };
}

/**
 * Resolves when `file` exists (a hook's signal), polling every 10 ms; rejects when `victim`
 * exits first, so a run that never reaches the hook fails the test instead of hanging.
 */
export async function fileAppears(file: string, victim: Daemon): Promise<void> {
  let exited = false;
  void victim.exited.then(() => (exited = true));
  for (;;) {
    try {
      await access(file);
      return;
    } catch {
      if (exited) throw new Error(`the rotator exited before ${file} appeared; stderr:\n${victim.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
