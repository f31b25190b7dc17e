'use strict';
// Raw-protocol client for the Colyseus connect_four room: implements PROTOCOL.md
// using only `ws` (WebSocket) and `msgpackr` (msgpack) — no colyseus SDK — so it
// checks that the byte-level description is complete and exact.
//
// Usage: node raw_client.js [--port N] [--host H] [--dump]
//   --dump  print every WebSocket frame in hex
// Exits 0 when every check passes, 1 with a message otherwise.

const http = require('http');
const WebSocket = require('ws');
const { pack, unpack } = require('msgpackr');

// Protocol codes (@colyseus/shared-types 0.18.3, src/Protocol.ts).
const P = {
  JOIN_ROOM: 10, ERROR: 11, LEAVE_ROOM: 12, ROOM_DATA: 13, ROOM_STATE: 14,
  ROOM_STATE_PATCH: 15, ROOM_DATA_SCHEMA: 16, ROOM_DATA_BYTES: 17, PING: 18,
  ROOM_INPUT_RELIABLE: 19, ROOM_INPUT_UNRELIABLE: 20, ROOM_REQUEST: 21, ROOM_RESPONSE: 22,
};
const CODE_NAMES = Object.fromEntries(Object.entries(P).map(([k, v]) => [v, k]));
const CODE_MASK = 0x1f;      // low 5 bits = protocol code
const MOD_TIMED = 0x80;      // modifier bits (never set for this room)
const MOD_UNRELIABLE = 0x40;

const { PORT, HOST } = require('./args');
const DUMP = process.argv.includes('--dump');
const TIMEOUT_MS = 2000;

const hex = (buf) => Buffer.from(buf).toString('hex').replace(/(..)(?!$)/g, '$1 ');

class Fail extends Error {}
function check(cond, message) { if (!cond) throw new Fail(message); }

// ---------------------------------------------------------------------------
// Wire codec helpers (the Rust client needs exactly these).

// @colyseus/schema "string": msgpack str header + UTF-8 bytes. NOTE: the str16 /
// str32 length is LITTLE-endian here (schema's encoder), unlike real msgpack;
// irrelevant for short type names, which use fixstr (0xa0 | len).
function encodeSchemaString(s) {
  const bytes = Buffer.from(s, 'utf8');
  const n = bytes.length;
  let head;
  if (n < 0x20) head = Buffer.from([0xa0 | n]);
  else if (n < 0x100) head = Buffer.from([0xd9, n]);
  else if (n < 0x10000) head = Buffer.from([0xda, n & 0xff, n >> 8]);
  else throw new Error('type name too long');
  return Buffer.concat([head, bytes]);
}

function decodeSchemaString(buf, it) {
  const prefix = buf[it.offset++];
  let len;
  if (prefix >= 0xa0 && prefix <= 0xbf) len = prefix & 0x1f;
  else if (prefix === 0xd9) len = buf[it.offset++];
  else if (prefix === 0xda) { len = buf[it.offset] | (buf[it.offset + 1] << 8); it.offset += 2; }
  else if (prefix === 0xdb) { len = buf.readUInt32LE(it.offset); it.offset += 4; }
  else throw new Fail(`not a schema string prefix: 0x${prefix.toString(16)}`);
  const s = buf.toString('utf8', it.offset, it.offset + len);
  it.offset += len;
  return s;
}

// @colyseus/schema "number": msgpack-style type byte, multi-byte bodies LITTLE-endian.
function decodeSchemaNumber(buf, it) {
  const p = buf[it.offset++];
  if (p < 0x80) return p;                       // positive fixint
  if (p >= 0xe0) return p - 0x100;              // negative fixint
  let v;
  switch (p) {
    case 0xcc: v = buf.readUInt8(it.offset); it.offset += 1; return v;
    case 0xcd: v = buf.readUInt16LE(it.offset); it.offset += 2; return v;
    case 0xce: v = buf.readUInt32LE(it.offset); it.offset += 4; return v;
    case 0xd0: v = buf.readInt8(it.offset); it.offset += 1; return v;
    case 0xd1: v = buf.readInt16LE(it.offset); it.offset += 2; return v;
    case 0xd2: v = buf.readInt32LE(it.offset); it.offset += 4; return v;
    case 0xca: v = buf.readFloatLE(it.offset); it.offset += 4; return v;
    case 0xcb: v = buf.readDoubleLE(it.offset); it.offset += 8; return v;
    default: throw new Fail(`unsupported schema number prefix 0x${p.toString(16)}`);
  }
}

// Hand-built ROOM_DATA frame exactly as PROTOCOL.md describes it:
//   0x0d | schema-string(type) | msgpack(payload)
// msgpack {column: c} for 0 <= c <= 127: 81 a6 'c' 'o' 'l' 'u' 'm' 'n' <c>
function moveFrame(column) {
  return Buffer.concat([
    Buffer.from([P.ROOM_DATA]),
    encodeSchemaString('move'),
    Buffer.from([0x81, 0xa6]), Buffer.from('column', 'ascii'), Buffer.from([column]),
  ]);
}

// Parse the server's JOIN_ROOM frame:
//   0x0a | u8 len | reconnectionToken | u8 len | serializerId | number(len) | reflection | sections*
function parseJoinRoom(buf) {
  const it = { offset: 1 };
  const rtLen = buf[it.offset++];
  const reconnectionToken = buf.toString('utf8', it.offset, it.offset + rtLen); it.offset += rtLen;
  const sidLen = buf[it.offset++];
  const serializerId = buf.toString('utf8', it.offset, it.offset + sidLen); it.offset += sidLen;
  const reflectionLen = decodeSchemaNumber(buf, it);
  const reflectionStart = it.offset;
  it.offset += reflectionLen;
  const sections = [];
  while (it.offset < buf.length) {
    const tag = buf[it.offset++];
    const len = decodeSchemaNumber(buf, it);
    sections.push({ tag, len });
    it.offset += len;
  }
  check(it.offset === buf.length, `JOIN_ROOM frame overrun: ${it.offset} > ${buf.length}`);
  return { reconnectionToken, serializerId, reflectionLen, reflectionStart, sections };
}

// ---------------------------------------------------------------------------
// HTTP matchmaking

function matchmake(method, target) {
  const body = '{}';
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: HOST, port: PORT, method: 'POST', path: `/matchmake/${method}/${target}`,
      headers: {
        'Content-Type': 'application/json',
        'Accept': 'application/json',
        'Content-Length': Buffer.byteLength(body),
      },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(data); } catch (e) { return reject(new Fail(`bad JSON from ${method}: ${data}`)); }
        resolve({ status: res.statusCode, json });
      });
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Fail(`HTTP ${method} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------
// One raw player connection

class RawPlayer {
  constructor(label, reservation) {
    this.label = label;
    this.reservation = reservation;
    this.frames = [];          // every frame received, in order
    this.waiters = [];
    this.closeInfo = null;
  }

  connect() {
    const { processId, roomId, sessionId } = this.reservation;
    const url = `ws://${HOST}:${PORT}/${processId}/${roomId}?sessionId=${encodeURIComponent(sessionId)}`;
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.on('message', (data, isBinary) => this.onFrame(Buffer.from(data), isBinary));
    this.ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      this.flushWaiters();
    });
    this.ws.on('error', (err) => { this.error = err; this.flushWaiters(); });
    return this.waitOpen();
  }

  waitOpen() {
    return new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
  }

  onFrame(buf, isBinary) {
    if (DUMP) console.log(`  [${this.label}] <- ${CODE_NAMES[buf[0] & CODE_MASK] || '?'} (${buf.length} B): ${hex(buf)}`);
    check(isBinary, `${this.label}: got a text frame`);
    const frame = { raw: buf, code: buf[0] & CODE_MASK, modifiers: buf[0] & 0xe0 };
    if (frame.code === P.JOIN_ROOM) {
      frame.join = parseJoinRoom(buf);
      // Complete the join: a single byte 0x0a.
      this.send(Buffer.from([P.JOIN_ROOM]));
    } else if (frame.code === P.ROOM_DATA) {
      const it = { offset: 1 };
      frame.type = (buf[1] >= 0xa0 && buf[1] <= 0xbf) || buf[1] === 0xd9 || buf[1] === 0xda || buf[1] === 0xdb
        ? decodeSchemaString(buf, it) : decodeSchemaNumber(buf, it);
      frame.message = it.offset < buf.length ? unpack(buf.subarray(it.offset)) : undefined;
    } else if (frame.code === P.ERROR) {
      const it = { offset: 1 };
      frame.errorCode = decodeSchemaNumber(buf, it);
      frame.errorMessage = decodeSchemaString(buf, it);
    }
    this.frames.push(frame);
    this.flushWaiters();
  }

  send(buf) {
    if (DUMP) console.log(`  [${this.label}] -> ${CODE_NAMES[buf[0] & CODE_MASK]} (${buf.length} B): ${hex(buf)}`);
    this.ws.send(buf, { binary: true });
  }

  flushWaiters() {
    const pending = this.waiters;
    this.waiters = [];
    for (const w of pending) w();
  }

  // Wait until `pred(frames)` returns a truthy value, or fail after TIMEOUT_MS.
  waitFor(what, pred) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Fail(`${this.label}: timed out waiting for ${what}`)), TIMEOUT_MS);
      const attempt = () => {
        if (this.error) { clearTimeout(timer); return reject(this.error); }
        let result;
        try { result = pred(this.frames); } catch (e) { clearTimeout(timer); return reject(e); }
        if (result) { clearTimeout(timer); return resolve(result); }
        if (this.closeInfo) {
          clearTimeout(timer);
          return reject(new Fail(`${this.label}: socket closed (${this.closeInfo.code}) while waiting for ${what}`));
        }
        this.waiters.push(attempt);
      };
      attempt();
    });
  }

  // frames after index `from` with the given code
  framesSince(from, code) { return this.frames.slice(from).filter((f) => f.code === code); }

  close() { try { this.ws.terminate(); } catch (e) { /* already closed */ } }
}

// ---------------------------------------------------------------------------

async function joinPlayer(label, reservation) {
  const p = new RawPlayer(label, reservation);
  await p.connect();
  const join = await p.waitFor('JOIN_ROOM', (fr) => fr.find((f) => f.code === P.JOIN_ROOM));
  check(join === p.frames[0], `${label}: first frame is not JOIN_ROOM`);
  check(join.modifiers === 0, `${label}: JOIN_ROOM with modifier bits`);
  check(join.join.serializerId === 'schema', `${label}: serializer "${join.join.serializerId}" != "schema"`);
  check(join.join.reconnectionToken.length > 0, `${label}: empty reconnection token`);
  check(join.join.reflectionLen > 0, `${label}: no state reflection in handshake`);
  check(join.join.sections.length === 0, `${label}: unexpected handshake sections`);
  const state = await p.waitFor('ROOM_STATE', (fr) => fr.find((f) => f.code === P.ROOM_STATE));
  check(state === p.frames[1], `${label}: second frame is not ROOM_STATE`);
  return p;
}

async function main() {
  // 0. The concrete frame from PROTOCOL.md, and that it equals what msgpackr /
  //    the SDK's layout produce.
  const expected3 = '0da46d6f766581a6636f6c756d6e03';
  check(moveFrame(3).toString('hex') === expected3, `move frame mismatch: ${moveFrame(3).toString('hex')}`);
  // The payload is ordinary msgpack: it decodes to {column: 3}. (msgpackr's own
  // `pack` would write the same map as map16 `de 00 01 ...`; the server's
  // `unpack` accepts any valid msgpack encoding of the map.)
  const decoded = unpack(moveFrame(3).subarray(6));
  check(JSON.stringify(decoded) === '{"column":3}', `payload decodes to ${JSON.stringify(decoded)}`);
  check(JSON.stringify(unpack(pack({ column: 3 }))) === '{"column":3}', 'msgpackr round trip');

  // 1. Create a room (player 0) and reserve the second seat by id (player 1).
  const created = await matchmake('create', 'connect_four');
  check(created.status === 200, `create: HTTP ${created.status} ${JSON.stringify(created.json)}`);
  for (const k of ['name', 'sessionId', 'roomId', 'processId']) {
    check(typeof created.json[k] === 'string' && created.json[k].length > 0, `create: missing ${k}`);
  }
  check(created.json.name === 'connect_four', 'create: wrong name');
  const joined = await matchmake('joinById', created.json.roomId);
  check(joined.status === 200, `joinById: HTTP ${joined.status} ${JSON.stringify(joined.json)}`);
  check(joined.json.roomId === created.json.roomId, 'joinById: other roomId');
  check(joined.json.sessionId !== created.json.sessionId, 'joinById: same sessionId');
  console.log(`room ${created.json.roomId} (process ${created.json.processId}): ` +
    `seat0 ${created.json.sessionId}, seat1 ${joined.json.sessionId}`);

  // A full room answers joinById with an HTTP error.
  const third = await matchmake('joinById', created.json.roomId);
  check(third.status === 522 && third.json.code === 522, `third joinById: expected 522, got ${third.status}`);

  // 2. Open both sockets, complete both handshakes (JOIN_ROOM, ack, ROOM_STATE).
  const p0 = await joinPlayer('p0', created.json);
  const p1 = await joinPlayer('p1', joined.json);
  const players = [p0, p1];
  // Joining sends no patch to anyone: only moves do.
  await new Promise((r) => setTimeout(r, 100));
  check(p0.frames.length === 2 && p1.frames.length === 2, `frames after join: p0 ${p0.frames.length}, p1 ${p1.frames.length}`);
  console.log(`handshake ok: JOIN_ROOM ${p0.frames[0].raw.length} B (reflection ${p0.frames[0].join.reflectionLen} B), ` +
    `ROOM_STATE ${p0.frames[1].raw.length} B / ${p1.frames[1].raw.length} B`);

  try {
    // 3. An out-of-turn move (seat 1 first) gets a "rejected" ROOM_DATA, no patch.
    let mark0 = p0.frames.length, mark1 = p1.frames.length;
    p1.send(moveFrame(0));
    const rej = await p1.waitFor('rejected', (fr) => fr.slice(mark1).find((f) => f.code === P.ROOM_DATA));
    check(rej.type === 'rejected', `expected "rejected", got ${rej.type}`);
    check(rej.message && rej.message.reason === 'not_your_turn', `reason: ${JSON.stringify(rej.message)}`);
    console.log(`out-of-turn move -> ROOM_DATA "rejected" ${JSON.stringify(rej.message)}: ${hex(rej.raw)}`);

    // An invalid column is rejected too.
    mark1 = p0.frames.length;
    p0.send(moveFrame(9));
    const rej2 = await p0.waitFor('rejected', (fr) => fr.slice(mark1).find((f) => f.code === P.ROOM_DATA));
    check(rej2.type === 'rejected' && rej2.message.reason === 'invalid_column', `bad column: ${JSON.stringify(rej2.message)}`);

    // 4. Play 0,1,0,1,0,1,0: seat 0 wins with a vertical four on its 4th disc.
    const columns = [0, 1, 0, 1, 0, 1, 0];
    const patchSizes = [];
    for (let i = 0; i < columns.length; i++) {
      const mover = players[i % 2];
      const opponent = players[1 - (i % 2)];
      mark0 = mover.frames.length;
      mark1 = opponent.frames.length;
      const t0 = process.hrtime.bigint();
      mover.send(moveFrame(columns[i]));
      const patch = await opponent.waitFor(`patch after move ${i + 1}`,
        (fr) => fr.slice(mark1).find((f) => f.code === P.ROOM_STATE_PATCH));
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      check(patch.modifiers === 0, 'patch with modifier bits');
      // the mover receives the same patch (same bytes)
      const own = await mover.waitFor(`own patch after move ${i + 1}`,
        (fr) => fr.slice(mark0).find((f) => f.code === P.ROOM_STATE_PATCH));
      check(own.raw.equals(patch.raw), 'mover and opponent got different patch bytes');
      check(opponent.framesSince(mark1, P.ROOM_DATA).length === 0, 'unexpected ROOM_DATA after valid move');
      patchSizes.push(patch.raw.length);
      console.log(`move ${i + 1} seat ${i % 2} col ${columns[i]}: opponent got ROOM_STATE_PATCH ` +
        `${patch.raw.length} B in ${us.toFixed(0)} us: ${hex(patch.raw)}`);
    }

    // 5. After the win, any further move is rejected with game_over.
    mark1 = p1.frames.length;
    p1.send(moveFrame(2));
    const over = await p1.waitFor('game_over', (fr) => fr.slice(mark1).find((f) => f.code === P.ROOM_DATA));
    check(over.message.reason === 'game_over', `after win: ${JSON.stringify(over.message)}`);

    // 6. Exactly one patch per valid move reached each player: wait 150 ms
    //    (3x the default 50 ms patch interval) for any stray interval patch.
    await new Promise((r) => setTimeout(r, 150));
    for (const p of players) {
      const n = p.frames.filter((f) => f.code === P.ROOM_STATE_PATCH).length;
      check(n === columns.length, `${p.label}: ${n} patches, expected ${columns.length}`);
    }

    // 7. A second socket with an already-consumed sessionId: ERROR frame then close 4002.
    const dup = new RawPlayer('dup', created.json);
    await dup.connect();
    const err = await dup.waitFor('ERROR', (fr) => fr.find((f) => f.code === P.ERROR));
    await dup.waitFor('close', () => dup.closeInfo);
    check(err.errorCode === 524, `ERROR code ${err.errorCode}`);
    check(dup.closeInfo.code === 4002, `close code ${dup.closeInfo.code}`);
    console.log(`reused sessionId -> ERROR ${err.errorCode} "${err.errorMessage}" then close ${dup.closeInfo.code}: ${hex(err.raw)}`);

    // 8. Consented leave: a single byte 0x0c; the server closes with 4000.
    p0.send(Buffer.from([P.LEAVE_ROOM]));
    await p0.waitFor('close after LEAVE_ROOM', () => p0.closeInfo);
    check(p0.closeInfo.code === 4000, `leave close code ${p0.closeInfo.code}`);

    console.log(`PASS raw_client: ${columns.length} moves, each answered by one ROOM_STATE_PATCH at both players ` +
      `(sizes ${patchSizes.join(',')} B), rejections ok, error/leave frames ok`);
  } finally {
    for (const p of players) p.close();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(`FAIL raw_client: ${err && err.stack || err}`);
  process.exit(1);
});
