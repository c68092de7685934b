import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fsyncDirectory } from '../../src/vaults/fs-util';

/**
 * Directory fsyncs are shared between concurrent writers (group commit), but never in a way
 * that lets a caller resolve on an fsync that began before it called: that fsync may not cover
 * the caller's rename.
 */
describe('fsyncDirectory (group commit)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rotator-fsync-'));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** Replaces opening `dir` with a handle whose fsyncs finish only when the test says. */
  function controlledSyncs() {
    const gates: (() => void)[] = [];
    const open = fs.open.bind(fs);
    const spy = jest.spyOn(fs, 'open').mockImplementation(async (file, ...rest) => {
      if (file !== dir) return open(file, ...rest);
      return {
        sync: () => new Promise<void>((resolve) => gates.push(resolve)),
        close: async () => undefined,
      } as unknown as fs.FileHandle;
    });
    const settled = () => new Promise((resolve) => setImmediate(resolve));
    return { gates, opens: () => spy.mock.calls.filter(([file]) => file === dir).length, settled };
  }

  test('callers that arrive together share one fsync', async () => {
    const { gates, opens, settled } = controlledSyncs();
    const calls = Array.from({ length: 8 }, () => fsyncDirectory(dir));
    await settled();
    expect(gates).toHaveLength(1);
    gates[0]!();
    await Promise.all(calls);
    expect(opens()).toBe(1);
  });

  test('a caller arriving while an fsync is in flight waits for the next one, which later callers share', async () => {
    const { gates, opens, settled } = controlledSyncs();
    let firstDone = false;
    let secondDone = false;
    const first = fsyncDirectory(dir).then(() => (firstDone = true));
    await settled();
    expect(gates).toHaveLength(1); // the first fsync is in flight
    const second = fsyncDirectory(dir).then(() => (secondDone = true));
    const third = fsyncDirectory(dir);
    gates[0]!();
    await first;
    await settled();
    expect(firstDone).toBe(true);
    expect(secondDone).toBe(false); // the fsync in flight may predate its rename
    expect(gates).toHaveLength(2);
    gates[1]!();
    await Promise.all([second, third]);
    expect(opens()).toBe(2);
  });

  test('a failed fsync fails every caller that shared it; the next call starts afresh', async () => {
    const open = fs.open.bind(fs);
    const failing = jest.spyOn(fs, 'open').mockImplementationOnce(async () => {
      throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    });
    const calls = [fsyncDirectory(dir), fsyncDirectory(dir)];
    for (const call of calls) await expect(call).rejects.toMatchObject({ code: 'EIO' });
    failing.mockImplementation(open);
    await expect(fsyncDirectory(dir)).resolves.toBeUndefined();
  });

  test('a real directory is fsynced', async () => {
    await fs.writeFile(path.join(dir, 'a'), 'x');
    await expect(Promise.all([fsyncDirectory(dir), fsyncDirectory(dir)])).resolves.toEqual([undefined, undefined]);
  });
});
