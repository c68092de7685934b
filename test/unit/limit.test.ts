import { createLimiter } from '../../src/limit';

describe('createLimiter', () => {
  test('runs at most `limit` tasks at once, in FIFO order, and passes results and errors through', async () => {
    const limiter = createLimiter(2);
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const task = (i: number) => () =>
      new Promise<number>((resolve) => {
        started.push(i);
        releases.push(() => resolve(i));
      });
    const results = [1, 2, 3, 4].map((i) => limiter.run(task(i)));
    const failing = limiter.run(() => Promise.reject(new Error('boom'))).catch((err: Error) => err.message);
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([1, 2]);
    expect(limiter.waiting).toBe(3);
    releases.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([1, 2, 3]);
    while (releases.length) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await expect(Promise.all(results)).resolves.toEqual([1, 2, 3, 4]);
    expect(await failing).toBe('boom');
    expect(limiter.active).toBe(0);
  });

  test.each([0, -1, 1.5, NaN])('rejects concurrency %p', (n) => {
    expect(() => createLimiter(n)).toThrow(/concurrency must be an integer >= 1/);
  });
});
