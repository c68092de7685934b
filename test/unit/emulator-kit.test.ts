/** The emulator kit's fault queue and request log, as emulators and tests rely on them. */
import { EmulatorKit } from '../../src/emulator-kit';

type Op = 'Get' | 'Put';

test('faults apply in queue order to matching operations, skip lets requests through first, spent faults leave', () => {
  const kit = new EmulatorKit<Op>();
  kit.fail({ status: 503, times: 2, operation: 'Put', skip: 1 }).fail({ status: 429, times: 1 });
  expect(kit.take('Get')?.status).toBe(429);
  expect(kit.take('Get')).toBeUndefined();
  expect(kit.take('Put')).toBeUndefined(); // skipped
  expect(kit.take('Put')?.status).toBe(503);
  expect(kit.take('Put')?.status).toBe(503);
  expect(kit.take('Put')).toBeUndefined();
  expect(kit.faults).toEqual([]);
});

test('drops and apply-then-drop are separate kinds: a normal take never consumes apply-then-drop', () => {
  const kit = new EmulatorKit<Op>();
  kit.fail({ kind: 'apply-then-drop', times: 1, operation: 'Put' });
  kit.dropConnections(1, 'Get');
  expect(kit.take('Put')).toBeUndefined();
  expect(kit.take('Put', 'apply-then-drop')?.kind).toBe('apply-then-drop');
  expect(kit.take('Get')?.kind).toBe('drop');
});

test('every request is logged and counted per operation, answered or not', async () => {
  const kit = new EmulatorKit<Op>();
  const a = await kit.begin('Get');
  a.status = 200;
  await kit.begin('Put');
  await kit.begin('Get');
  expect(kit.count()).toBe(3);
  expect(kit.count('Get')).toBe(2);
  expect(kit.counts()).toEqual({ Get: 2, Put: 1 });
  expect(kit.requests.map((r) => r.status)).toEqual([200, 0, 0]);
});

test('triggers: listeners match operation and phase (or any operation), run in order, and off() removes one', async () => {
  const kit = new EmulatorKit<Op>();
  const seen: string[] = [];
  const off = kit.on('Put', 'applied', (e) => void seen.push(`put:${e.phase}:${e.resource ?? ''}`));
  kit.on('*', 'received', (e) => void seen.push(`any:${e.operation}`));
  await kit.emit({ operation: 'Put', phase: 'received' });
  await kit.emit({ operation: 'Put', phase: 'applied', resource: 'r1' });
  await kit.emit({ operation: 'Get', phase: 'applied' });
  off();
  await kit.emit({ operation: 'Put', phase: 'applied', resource: 'r2' });
  expect(seen).toEqual(['any:Put', 'put:applied:r1']);
});

test('triggers: emit waits for a listener that holds the request, and rejects when it throws', async () => {
  const kit = new EmulatorKit<Op>();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  kit.on('Put', 'applied', () => held);
  let done = false;
  const emitted = kit.emit({ operation: 'Put', phase: 'applied' }).then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  expect(done).toBe(false);
  release();
  await emitted;
  expect(done).toBe(true);
  kit.on('Get', 'received', () => {
    throw new Error('listener failed');
  });
  await expect(kit.emit({ operation: 'Get', phase: 'received' })).rejects.toThrow('listener failed');
});
