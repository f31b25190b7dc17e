'use strict';
// Colyseus Connect Four room: the comparison target for the Rust game server
// benchmark. Plain CommonJS, no build step. See README.md and PROTOCOL.md.
//
// Usage: node server.js [--port N] [--host H] [--patch-rate max|null|MS] [--ping-interval MS]
//   port:       --port N | env PORT | 2567
//   host:       --host H | env HOST | 127.0.0.1
//   patch rate: --patch-rate | env PATCH_RATE | "max" (see below)
//
// Every valid move calls this.broadcastPatch() itself, so the automatic patch
// interval is not needed. In @colyseus/core 0.18.17 (Room.ts, the `patchRate`
// setter) there are two ways to keep it out of the way:
//   null / 0  disables the patch interval, but then core starts a 16.7 ms
//             (60 Hz) setInterval per room that only calls this.clock.tick().
//   max       2147483647 ms (Node's largest timer delay, ~24.8 days): one
//             per-room interval that never fires in practice; the room clock
//             is still ticked by every broadcastPatch(). Default, because it
//             is the cheaper of the two (500 idle rooms: ~1.9% of a core
//             against ~8.5% with null, ~7.4% with the 50 ms default).
//   MS        any other interval in milliseconds (50 = Colyseus's default).
// None of these adds a second send: broadcastPatch() discards the changes it
// sent, and an interval patch with no changes sends nothing.

const { Server, Room, ClientState } = require('@colyseus/core');
const { WebSocketTransport } = require('@colyseus/ws-transport');
const { schema, t } = require('@colyseus/schema');

const COLS = 7;
const ROWS = 6;
const CELLS = COLS * ROWS; // 42; cell index = row * COLS + col, row 0 is the BOTTOM row
const NO_WINNER = -1;
const DRAW = 2;

const { argValue, PORT: port, HOST: host } = require('./args');
const TIMER_MAX_MS = 2147483647; // larger delays make Node fire after 1 ms
const patchRateArg = argValue('--patch-rate') ?? process.env.PATCH_RATE ?? 'max';
const PATCH_RATE = (patchRateArg === 'null') ? null
  : (patchRateArg === 'max') ? TIMER_MAX_MS
  : Number(patchRateArg);

if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`invalid port: ${port}`);
  process.exit(2);
}
if (PATCH_RATE !== null && !(Number.isInteger(PATCH_RATE) && PATCH_RATE >= 0 && PATCH_RATE <= TIMER_MAX_MS)) {
  console.error(`invalid patch rate: ${patchRateArg}`);
  process.exit(2);
}

// State schema (the @colyseus/schema 5 function form, no decorators needed).
// Field order = field index on the wire: board 0, toMove 1, moves 2, winner 3, players 4.
const ConnectFourState = schema({
  board: t.array('uint8'),   // 42 cells: 0 empty, 1 = seat 0's disc, 2 = seat 1's disc
  toMove: t.uint8(),         // seat (0 or 1) whose turn it is
  moves: t.uint8(),          // number of discs played
  winner: t.int8(),          // -1 none yet, 0 / 1 winning seat, 2 draw
  players: t.array('string'), // sessionIds; index = seat
}, 'ConnectFourState');

const DIRECTIONS = [[1, 0], [0, 1], [1, 1], [1, -1]];

class ConnectFourRoom extends Room {
  // Two seats; once both are taken core locks the room (hasReachedMaxClients).
  maxClients = 2;

  // A valid move calls broadcastPatch() itself, so each move produces exactly
  // one ROOM_STATE_PATCH frame per player; the interval stays out of the way
  // (see the patch-rate note at the top of this file).
  patchRate = PATCH_RATE;

  onCreate() {
    const state = new ConnectFourState();
    for (let i = 0; i < CELLS; i++) state.board.push(0);
    state.toMove = 0;
    state.moves = 0;
    state.winner = NO_WINNER;
    this.state = state;
    // Plain JS array mirror of the board so the win check does not go through
    // the ArraySchema proxy.
    this.cells = new Uint8Array(CELLS);

    this.onMessage('move', (client, payload) => this.onMove(client, payload));
  }

  onJoin(client) {
    // First to join is seat 0 and moves first.
    this.state.players.push(client.sessionId);
    // Only moves send patches: each move gives exactly one ROOM_STATE_PATCH to
    // each player, and nothing else does. While no client has finished its join
    // (always true at seat 0's join), broadcastPatch() sends nothing and only
    // drops the set-up changes, which the full state (ROOM_STATE, sent on each
    // JOIN_ROOM ack) already contains. Without this, the first move's patch
    // would also carry all of them (165 bytes instead of 12). If seat 0 is
    // JOINED when seat 1 joins, players[1] stays pending and rides along in
    // the first move's patch (26 bytes).
    if (!this.clients.some((c) => c.state === ClientState.JOINED)) {
      this.broadcastPatch();
    }
  }

  onLeave(client) {
    // The room stays as it is; autoDispose removes it once both have left.
  }

  onMove(client, payload) {
    const state = this.state;
    const seat = state.players.indexOf(client.sessionId);
    let reason;
    if (seat < 0) {
      reason = 'not_a_player';
    } else if (state.winner !== NO_WINNER) {
      reason = 'game_over';
    } else if (state.players.length < 2) {
      reason = 'waiting_for_opponent';
    } else if (seat !== state.toMove) {
      reason = 'not_your_turn';
    } else {
      const column = (payload !== null && typeof payload === 'object') ? payload.column : undefined;
      if (!Number.isInteger(column) || column < 0 || column >= COLS) {
        reason = 'invalid_column';
      } else {
        let row = 0;
        while (row < ROWS && this.cells[row * COLS + column] !== 0) row++;
        if (row === ROWS) {
          reason = 'column_full';
        } else {
          this.applyMove(seat, row, column);
          // Send the patch now instead of waiting for an interval.
          this.broadcastPatch();
          return;
        }
      }
    }
    client.send('rejected', { reason });
  }

  applyMove(seat, row, column) {
    const state = this.state;
    const disc = seat + 1;
    const index = row * COLS + column;
    this.cells[index] = disc;
    state.board[index] = disc;
    state.moves += 1;
    if (this.isWin(row, column, disc)) {
      state.winner = seat;
    } else if (state.moves === CELLS) {
      state.winner = DRAW;
    } else {
      state.toMove = 1 - seat;
    }
  }

  isWin(row, column, disc) {
    const cells = this.cells;
    for (const [dc, dr] of DIRECTIONS) {
      let count = 1;
      for (const sign of [1, -1]) {
        let c = column + sign * dc;
        let r = row + sign * dr;
        while (c >= 0 && c < COLS && r >= 0 && r < ROWS && cells[r * COLS + c] === disc) {
          count++;
          c += sign * dc;
          r += sign * dr;
        }
      }
      if (count >= 4) return true;
    }
    return false;
  }
}

async function main() {
  // Colyseus pings every socket every 3 s (pingInterval 3000, its default) in one loop:
  // with thousands of sockets that is a stall of ~100 ms every 3 s. --ping-interval MS
  // (env PING_INTERVAL; 0 disables the pings, and with them the dead-socket check)
  // shows the room without it.
  const pingInterval = Number(argValue('--ping-interval') ?? process.env.PING_INTERVAL ?? 3000);
  if (!Number.isInteger(pingInterval) || pingInterval < 0) {
    console.error(`invalid ping interval: ${pingInterval}`);
    process.exit(2);
  }
  const gameServer = new Server({
    transport: new WebSocketTransport({ pingInterval }),
    greet: false,
  });
  gameServer.define('connect_four', ConnectFourRoom);
  await gameServer.listen(port, host);
  console.log(`listening on ${port}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
