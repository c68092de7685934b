import type { ProviderDescriptor, ProviderPlugin } from '../src/types';
import { ncpStsDescriptor } from './ncp-sts/descriptor';
import { mongodbCloudManagerDescriptor } from './mongodb-cloud-manager/descriptor';

/**
 * Every provider, as a light descriptor (schemas; the plugin is loaded on first use). Adding a
 * provider: its folder (with a `descriptor.ts`), its tests, and one line here.
 */
export const providers: readonly ProviderDescriptor[] = [ncpStsDescriptor, mongodbCloudManagerDescriptor];

/** Every plugin, loaded (their HTTP clients included): for tools and tests that need them all. */
export function loadProviderPlugins(): ProviderPlugin[] {
  return providers.map((p) => p.load());
}
