import { LazyChildLogger } from '../../src/runtime';
import { memoryLogger } from '../../src/log';
import type { Logger } from '../../src/types';

/** A parent that counts the children it makes and hands out the real (memory) logger's. */
function countingParent() {
  const real = memoryLogger();
  let children = 0;
  const parent: Logger = {
    debug: (o, m) => real.debug(o, m),
    info: (o, m) => real.info(o, m),
    warn: (o, m) => real.warn(o, m),
    error: (o, m) => real.error(o, m),
    child: (bindings) => {
      children++;
      return real.child(bindings);
    },
  };
  return { parent, real, children: () => children };
}

describe('LazyChildLogger', () => {
  test('makes no child until something is logged (a provider per idle secret costs no pino child)', () => {
    const { parent, children } = countingParent();
    new LazyChildLogger(parent, { secretId: 'a' });
    expect(children()).toBe(0);
  });

  test('logs every level with its bindings through one child made on first use', () => {
    const { parent, real, children } = countingParent();
    const log = new LazyChildLogger(parent, { secretId: 'a' });
    log.debug({ n: 1 }, 'one');
    log.info({ n: 2 }, 'two');
    log.warn({ n: 3 }, 'three');
    log.error({ n: 4 }, 'four');
    expect(children()).toBe(1);
    const lines = real.lines.map((l) => JSON.parse(l) as { level: string; secretId: string; n: number; msg: string });
    expect(lines.map((l) => [l.level, l.secretId, l.n, l.msg])).toEqual([
      ['debug', 'a', 1, 'one'],
      ['info', 'a', 2, 'two'],
      ['warn', 'a', 3, 'three'],
      ['error', 'a', 4, 'four'],
    ]);
  });

  test('a child of it carries both bindings', () => {
    const { parent, real } = countingParent();
    new LazyChildLogger(parent, { secretId: 'a' }).child({ rotationId: 'r1' }).info({}, 'hello');
    expect(JSON.parse(real.lines[0]!)).toMatchObject({ secretId: 'a', rotationId: 'r1', msg: 'hello' });
  });
});
