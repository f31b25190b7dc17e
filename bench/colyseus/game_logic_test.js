'use strict';
// Rule checks for server.js through @colyseus/sdk: full column, horizontal,
// both diagonals, a seat-1 win, invalid columns, and a 42-move draw.
// Usage: node game_logic_test.js [--port N] [--host H]   (server.js must be running)

const { Client } = require('@colyseus/sdk');

const { PORT, HOST } = require('./args');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function waitUntil(what, pred, ms = 2000) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      if (pred()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 2);
    };
    poll();
  });
}

// moves: column numbers played by alternating seats starting with seat 0, or
// [seat, payloadColumn] pairs for explicit (possibly invalid) moves.
async function play(name, moves, expect) {
  const client = new Client(`ws://${HOST}:${PORT}`);
  const a = await client.create('connect_four');
  const b = await client.joinById(a.roomId);
  const rejected = [];
  a.onMessage('rejected', (m) => rejected.push(`0:${m.reason}`));
  b.onMessage('rejected', (m) => rejected.push(`1:${m.reason}`));
  await waitUntil('both states', () => a.state.players && a.state.players.length >= 1 && b.state.players && b.state.players.length === 2);
  const rooms = [a, b];
  let seat = 0;
  for (const m of moves) {
    const [who, column] = Array.isArray(m) ? m : [seat, m];
    const before = b.state.moves;
    const nRejected = rejected.length;
    rooms[who].send('move', { column });
    await waitUntil(`${name}: reply to ${JSON.stringify(m)}`, () => b.state.moves !== before || rejected.length !== nRejected);
    if (!Array.isArray(m)) seat = 1 - seat;
  }
  await sleep(20);
  const got = { winner: b.state.winner, moves: b.state.moves, rejected };
  await a.leave();
  await b.leave();
  const want = { winner: expect.winner, moves: expect.moves, rejected: expect.rejected || [] };
  const ok = JSON.stringify(got) === JSON.stringify(want);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${JSON.stringify(got)}${ok ? '' : ' expected ' + JSON.stringify(want)}`);
  return ok;
}

async function main() {
  const results = [
    await play('column full', [0, 0, 0, 0, 0, 0, [0, 0]], { winner: -1, moves: 6, rejected: ['0:column_full'] }),
    await play('horizontal', [0, 0, 1, 1, 2, 2, 3], { winner: 0, moves: 7 }),
    await play('diagonal /', [0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3], { winner: 0, moves: 11 }),
    await play('diagonal \\', [6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3], { winner: 0, moves: 11 }),
    await play('seat 1 vertical', [0, 1, 0, 1, 0, 1, 6, 1], { winner: 1, moves: 8 }),
    await play('invalid columns', [[0, 3.5], [0, -1], [0, 7], [0, '3'], [0, 3], [1, null]],
      { winner: -1, moves: 1, rejected: ['0:invalid_column', '0:invalid_column', '0:invalid_column', '0:invalid_column', '1:invalid_column'] }),
    await play('draw', '421106542314212215324055446653001005333666'.split('').map(Number), { winner: 2, moves: 42 }),
  ];
  const passed = results.filter(Boolean).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  process.exit(passed === results.length ? 0 : 1);
}

main().catch((err) => { console.error(`FAIL game_logic_test: ${err && err.stack || err}`); process.exit(1); });
