// test/http-hostile-clients.test.ts with `start-server --front node` (node:http; the native front is the default).
process.env.PYHOST_TEST_FRONT = 'node';
await import('../http-hostile-clients.test.js');
