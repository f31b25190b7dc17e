'use strict';
// Smoke test of server.js with the official client SDK (@colyseus/sdk, the
// 0.18 successor of colyseus.js): create a room, join a second client by id,
// check an out-of-turn move is rejected, play 0,1,0,1,0,1,0 to a win and check
// every move reaches the opponent as a state patch (onStateChange).
//
// Usage: node smoke.js [--port N] [--host H]   (server.js must be running)
// Exits 0 on success, 1 with a message otherwise.

const { Client } = require('@colyseus/sdk');

const { PORT, HOST } = require('./args');
const TIMEOUT_MS = 2000;

class Fail extends Error {}
function check(cond, message) { if (!cond) throw new Fail(message); }

// Records every onStateChange and "rejected" message of one room connection.
function instrument(label, room) {
  const rec = { label, room, stateChanges: 0, rejected: [], waiters: [] };
  const wake = () => { const w = rec.waiters; rec.waiters = []; w.forEach((f) => f()); };
  room.onStateChange(() => { rec.stateChanges++; wake(); });
  room.onMessage('rejected', (msg) => { rec.rejected.push(msg); wake(); });
  room.onLeave(() => { rec.left = true; wake(); });
  rec.waitFor = (what, pred) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Fail(`${label}: timed out waiting for ${what}`)), TIMEOUT_MS);
    const attempt = () => {
      let r;
      try { r = pred(); } catch (e) { clearTimeout(timer); return reject(e); }
      if (r) { clearTimeout(timer); return resolve(r); }
      rec.waiters.push(attempt);
    };
    attempt();
  });
  return rec;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const client = new Client(`ws://${HOST}:${PORT}`);

  const room0 = await client.create('connect_four');
  const a = instrument('seat0', room0);
  await a.waitFor('initial state', () => a.stateChanges >= 1);

  const room1 = await client.joinById(room0.roomId);
  const b = instrument('seat1', room1);
  await b.waitFor('initial state', () => b.stateChanges >= 1);
  // Joining sends no patch: seat 0 sees players[1] only with the first move.
  await sleep(100);
  check(a.stateChanges === 1, `seat0: ${a.stateChanges} state changes before any move`);

  check(room0.roomId === room1.roomId, 'different room ids');
  const s = room1.state;
  check(s.board.length === 42, `board length ${s.board.length}`);
  check(s.players.length === 2 && s.players[0] === room0.sessionId && s.players[1] === room1.sessionId,
    `players ${JSON.stringify(s.players.toArray())}`);
  check(s.toMove === 0 && s.moves === 0 && s.winner === -1, `initial toMove/moves/winner ${s.toMove}/${s.moves}/${s.winner}`);
  console.log(`room ${room0.roomId}: seat0 ${room0.sessionId}, seat1 ${room1.sessionId}`);

  // Out-of-turn move: seat 1 moves first -> "rejected", no state change anywhere.
  let a0 = a.stateChanges, b0 = b.stateChanges;
  room1.send('move', { column: 3 });
  const rej = await b.waitFor('rejected', () => b.rejected[0]);
  check(rej.reason === 'not_your_turn', `reject reason ${JSON.stringify(rej)}`);
  await sleep(100);
  check(a.stateChanges === a0 && b.stateChanges === b0, 'state changed after a rejected move');
  console.log(`out-of-turn move rejected: ${JSON.stringify(rej)}`);

  // Full game: 0,1,0,1,0,1,0 -> seat 0 wins (vertical four in column 0).
  const columns = [0, 1, 0, 1, 0, 1, 0];
  const rooms = [a, b];
  for (let i = 0; i < columns.length; i++) {
    const mover = rooms[i % 2];
    const opponent = rooms[1 - (i % 2)];
    const before = opponent.stateChanges;
    mover.room.send('move', { column: columns[i] });
    await opponent.waitFor(`patch after move ${i + 1}`, () => opponent.stateChanges > before);
    const st = opponent.room.state;
    check(opponent.stateChanges === before + 1, `move ${i + 1}: ${opponent.stateChanges - before} patches at opponent`);
    check(st.moves === i + 1, `move ${i + 1}: opponent sees moves=${st.moves}`);
    // the mover gets the same patch; wait for it so the next round starts clean
    await mover.waitFor(`own patch after move ${i + 1}`, () => mover.room.state.moves === i + 1);
    // gravity: the disc landed on the lowest free row of its column
    const row = Math.floor(i / 2); // columns 0 and 1 each fill bottom-up
    check(st.board[row * 7 + columns[i]] === (i % 2) + 1, `move ${i + 1}: board cell not set`);
  }
  const fin = room1.state;
  check(fin.winner === 0, `winner ${fin.winner}, expected 0`);
  check(room0.state.winner === 0, 'seat 0 does not see the win');
  console.log(`game over: winner seat ${fin.winner} after ${fin.moves} moves`);

  // After the game any move is rejected.
  room1.send('move', { column: 2 });
  const over = await b.waitFor('game_over', () => b.rejected[1]);
  check(over.reason === 'game_over', `after win: ${JSON.stringify(over)}`);

  // No extra patches arrive later (patch interval disabled): 1 per move.
  await sleep(150);
  check(b.stateChanges === 1 + columns.length, `seat1: ${b.stateChanges} state changes, expected ${1 + columns.length}`);
  check(a.stateChanges === 1 + columns.length, `seat0: ${a.stateChanges} state changes, expected ${1 + columns.length}`);
  check(room0.state.players.length === 2 && room0.state.players[1] === room1.sessionId, 'seat0 never saw players[1]');

  await room0.leave();
  await room1.leave();
  console.log(`PASS smoke: ${columns.length} moves, each followed by a state patch at the opponent; rejections ok`);
}

main().then(() => process.exit(0), (err) => {
  console.error(`FAIL smoke: ${err && err.stack || err}`);
  process.exit(1);
});
