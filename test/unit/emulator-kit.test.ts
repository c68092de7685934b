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
