import type { ProviderPlugin } from '../src/types';
import { ncpSts } from './ncp-sts';

/** Every provider plugin. Adding a provider: its folder, its tests, and one line here. */
export const providerPlugins: readonly ProviderPlugin[] = [ncpSts];
