// The peer of bench/queue.sh: the same three measures taken on BullMQ, the
// queue a Node stack would pick, against the same Redis in the same run.
// BullMQ keeps its jobs in Redis only (no durable record), with its
// defaults: completed jobs are kept, as Mixdown keeps its rows.
//
//   node bench/bullmq.cjs SECONDS CONCURRENCY   (REDIS_URL, NODE_PATH to bullmq)
//
// Prints one line per measure: `single <jobs/s> <p99 ms>`, `batch <jobs/s>`,
// `worker <jobs/s> <jobs>`.
'use strict';
const { Queue, Worker } = require('bullmq');

const seconds = Number(process.argv[2] || 10);
const concurrency = Number(process.argv[3] || 50);
const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
const connection = {
  host: url.hostname,
  port: Number(url.port || 6379),
  maxRetriesPerRequest: null,
};
const name = `mixdown-peer-${process.pid}`;

// Runs `clients` loops of `step` for `seconds`; returns their latencies in ms.
async function closedLoop(clients, step) {
  const end = performance.now() + seconds * 1000;
  const latencies = [];
  const loop = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      await step();
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, loop));
  return { latencies, elapsed: (performance.now() - started) / 1000 };
}

// Single jobs from 64 callers at once, as wrk's 64 connections post them.
async function single(queue) {
  const { latencies, elapsed } = await closedLoop(64, () => queue.add('noop', {}));
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)];
  console.log(`single ${(latencies.length / elapsed).toFixed(0)} ${p99.toFixed(2)}`);
}

// Batches of 1,000 from 4 callers at once, as wrk's 4 connections post them.
async function batch(queue) {
  const jobs = Array.from({ length: 1000 }, () => ({ name: 'noop', data: {} }));
  const { latencies, elapsed } = await closedLoop(4, () => queue.addBulk(jobs));
  console.log(`batch ${((latencies.length * jobs.length) / elapsed).toFixed(0)}`);
}

// One worker drains everything added above; timed from its first job taken
// to its last completed, as Mixdown's rate is read from its rows.
async function drain(queue) {
  const total = await queue.count();
  let first;
  let done = 0;
  const finished = new Promise((resolve) => {
    const worker = new Worker(name, async () => {}, { connection, concurrency });
    worker.once('active', () => {
      first = performance.now();
    });
    worker.on('completed', () => {
      done += 1;
      if (done === total) resolve(worker);
    });
  });
  const worker = await finished;
  const elapsed = (performance.now() - first) / 1000;
  console.log(`worker ${(total / elapsed).toFixed(0)} ${total}`);
  await worker.close();
}

async function main() {
  const queue = new Queue(name, { connection });
  try {
    await single(queue);
    await batch(queue);
    await drain(queue);
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
