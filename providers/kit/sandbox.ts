import { RotatorError } from '../../src/errors';
import type { EmulatorHandle, ProviderDeps, ProviderPlugin, ProviderSpec } from '../../src/types';

/**
 * The sandbox part of a plugin: start its emulator on loopback and point a configured secret at
 * it. Shared here so each provider only says how to start its emulator, how to recognise its own
 * handle, and how to rewrite a spec; the wrong-handle check and the start log line are the kit's.
 */
export function sandboxOf<C, P, H extends EmulatorHandle>(
  plugin: string,
  parts: {
    /** Starts the emulator (loaded lazily by the caller); registers the secrets it generated. */
    start(deps: ProviderDeps): Promise<H>;
    isHandle(handle: EmulatorHandle): handle is H;
    rewrite(spec: ProviderSpec<C, P>, handle: H): ProviderSpec<C, P>;
  },
): NonNullable<ProviderPlugin<C, P>['sandbox']> {
  return {
    async start(deps) {
      const handle = await parts.start(deps);
      deps.log.info({ url: handle.url }, `${plugin} sandbox emulator started`);
      return handle;
    },
    rewrite(spec, handle) {
      if (!parts.isHandle(handle)) {
        throw new RotatorError('INTERNAL', `${plugin} sandbox rewrite needs the handle returned by its own sandbox.start`, {
          plugin,
        });
      }
      return parts.rewrite(spec, handle);
    },
  };
}
