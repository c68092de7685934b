/**
 * A counting semaphore: at most `limit` tasks run at once; the rest wait in FIFO order.
 * (p-limit ≥ 4 is ESM-only; this is the few lines we need.)
 */
export function createLimiter(limit: number) {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be an integer >= 1 (got ${limit})`);
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    active--;
    queue.shift()?.();
  };
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const start = () => {
          active++;
          // A task that throws synchronously must still free its slot.
          Promise.resolve().then(task).then(resolve, reject).finally(next);
        };
        if (active < limit) start();
        else queue.push(start);
      });
    },
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
  };
}
