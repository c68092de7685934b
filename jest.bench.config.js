/** `npm run bench`: the benchmarks under test/bench, one at a time so they don't compete. */
const base = require('./jest.config.js');
module.exports = {
  ...base,
  testMatch: ['**/test/bench/**/*.bench.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 300000,
};
