// test/wsgi-validate.test.ts on the native front (csrc/http): the mounts it serves go through it, the
// others (Express, Fastify, per-request groups, timeouts) stay on node:http.
process.env.PYHOST_TEST_FRONT = 'native';
await import('../wsgi-validate.test.js');
