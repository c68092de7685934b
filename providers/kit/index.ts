/**
 * The provider kit: what every provider needs and nothing provider-specific. See
 * providers/README.md ("Writing a provider").
 */
export * from './answer';
export * from './compare';
export * from './dates';
export * from './http';
export * from './sandbox';
export * from './spec';
