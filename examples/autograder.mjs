// An autograder on pyhost/harness: 50 submissions of one exercise (fib(n)), each in a tenant of
// its own, graded at once. Some submissions misbehave the way real ones do: they exit, abort,
// segfault, kill their process, loop inside `except Exception`, sleep, print without end,
// allocate without end, reach for other interpreters, or leave a thread running. Each gets its
// verdict; the grader and the other submissions go on.
//
//   npm run build:ts && node examples/autograder.mjs [python3.13]
import { Harness } from 'pyhost/harness';

const python = process.argv[2] ?? process.env.PYHOST_PYTHON ?? 'python3.13';
const CASES = [[0, 0], [1, 1], [10, 55], [20, 6765]];

const good = [
  'def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n',
  'from functools import lru_cache\n@lru_cache(None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n',
  'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n',
];
const misbehaving = {
  'wrong answer': 'def fib(n):\n    return n * 2\n',
  'raises': 'def fib(n):\n    return [0, 1][n]\n',
  'syntax error': 'def fib(n)\n    return n\n',
  'os._exit': 'import os\ndef fib(n):\n    os._exit(1)\n',
  'os.abort': 'import os\ndef fib(n):\n    os.abort()\n',
  'segfault': 'import ctypes\ndef fib(n):\n    ctypes.memset(8, 0, 1)\n',
  'kills its process': 'import os, signal\ndef fib(n):\n    os.kill(os.getpid(), signal.SIGKILL)\n',
  'swallows timeouts': 'def fib(n):\n    while True:\n        try:\n            while True:\n                pass\n        except Exception:\n            pass\n',
  'sleeps': 'import time\ndef fib(n):\n    time.sleep(60)\n',
  'prints forever': 'def fib(n):\n    while True:\n        print("debug", n)\n',
  'memory hog': 'def fib(n):\n    hog = []\n    while True:\n        hog.append(bytearray(64 * 1024 * 1024))\n',
  'reaches other tenants': 'import _interpreters\ndef fib(n):\n    return 0\n',
  'sys.exit': 'import sys\ndef fib(n):\n    sys.exit("giving up")\n',
  'leaves a thread': 'import threading, time\nthreading.Thread(target=lambda: time.sleep(3600)).start()\n' +
    'def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n',
};
const submissions = [];
const kinds = Object.entries(misbehaving);
for (let i = 0; i < 50; i++) {
  const [kind, code] = i < kinds.length ? kinds[i] : ['correct', good[i % good.length]];
  submissions.push({ id: `s${String(i + 1).padStart(2, '0')}`, kind, code });
}

const harness = await Harness.start({
  python,
  isolation: 'process',
  tenantsPerProcess: 8,
  memoryLimit: 512 * 1024 * 1024,
  maxOutput: 64 * 1024,
  timeoutGrace: 1000,
  engine: { logLevel: 'error' },
});
let restarts = 0;
harness.on('restart', () => restarts++);

async function grade({ id, kind, code }) {
  const tenant = await harness.tenant(id, { files: { 'solution.py': code } });
  try {
    for (const [n, want] of CASES) {
      let r = await tenant.call('solution:fib', [n], { timeout: 1000 });
      // Tenants share host processes (tenantsPerProcess): a call may die with a neighbour that
      // crashed its host. The tenant has been re-created meanwhile: one more try tells.
      if (r.error?.code === 'CRASHED') r = await tenant.call('solution:fib', [n], { timeout: 1000 });
      if (r.error) return { id, kind, verdict: r.error.code, detail: `${r.error.type} ${r.error.message}`.trim().slice(0, 60) };
      if (r.value !== want) return { id, kind, verdict: 'WRONG', detail: `fib(${n}) = ${JSON.stringify(r.value)}, expected ${want}` };
    }
    return { id, kind, verdict: 'PASS', detail: '' };
  } finally {
    await tenant.close();
  }
}

const t0 = performance.now();
const rows = await Promise.all(submissions.map(grade));
const seconds = (performance.now() - t0) / 1000;
console.log('submission  kind                    verdict       detail');
for (const r of rows) console.log(`${r.id.padEnd(11)} ${r.kind.padEnd(23)} ${r.verdict.padEnd(13)} ${r.detail}`);
const tally = {};
for (const r of rows) tally[r.verdict] = (tally[r.verdict] ?? 0) + 1;
console.log(`\n${rows.length} submissions graded in ${seconds.toFixed(1)} s: ${Object.entries(tally).map(([v, n]) => `${n} ${v}`).join(', ')}; ` +
  `${restarts} tenant re-creations after host crashes; this process is still here.`);
await harness.close();
