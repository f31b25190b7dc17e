//! The games transport (`betbet-load game`): pairs of players in Connect Four rooms, each
//! making its moves on a fixed schedule, timed from a move's send to the *opponent's*
//! update showing it — the latency a player feels.
//!
//! The same generator drives two servers ([`Peer`]): `betbet serve` (a move is a
//! `game_move` on `/ws/game/{session_id}`, journaled and applied by the core; the opponent
//! sees its `game_update`) and a Colyseus room (`bench/colyseus/`: a `"move"` room message,
//! applied in the Node process's memory; the opponent sees the state patch). Setup differs
//! (REST sessions or Colyseus matchmaking), the run does not.
//!
//! Every game plays [`DRAW`], a full board with no four in a row, so a session lasts its 42
//! moves and every move is legal and turn-checked by the server; a run may not need more
//! moves than that of one session. A session's moves are due every `sessions / rate`
//! seconds, session `k` offset by `k / rate` so the total is smooth. A move is sent when it
//! is due and the previous move's update has reached the opponent (a turn-based game
//! cannot move ahead of its position): latency is taken from the send and, separately,
//! from the due time, which also counts a server that falls behind the schedule.

use super::report::{Host, ms, percentiles};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The columns of a whole game that fills the board with no four in a row for either
/// player (found by a depth-first search; checked by this module's tests).
pub const DRAW: &[u8; 42] = b"000000111111222222433333344444555555666666";

/// How long a connection (TCP, upgrade and the room's first state) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a move may wait for its update before the session gives up.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest latency the histograms hold.
const LATENCY_US_MAX: u64 = 120_000_000;

/// The server under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Betbet,
    Colyseus,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::Betbet => "betbet",
            Peer::Colyseus => "colyseus",
        }
    }
}

/// One session: the room URL of each of its two players, and which of them moves first.
#[derive(Debug, Clone)]
pub struct Table {
    pub urls: [String; 2],
    pub first: usize,
}

#[derive(Debug, Clone)]
pub struct GameOptions {
    pub peer: Peer,
    /// Moves per second over all sessions.
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
    pub connect_concurrency: usize,
}

impl GameOptions {
    /// Checks that no session needs more than one game's moves.
    pub fn check(&self, sessions: usize) -> Result<(), String> {
        if sessions == 0 || self.rate <= 0.0 {
            return Err("--sessions and --rate must be positive".to_owned());
        }
        let per_session = self.rate / sessions as f64 * (self.warmup + self.duration).as_secs_f64();
        if per_session > (DRAW.len() - 1) as f64 {
            return Err(format!(
                "each session would need {per_session:.0} moves but a game has {}: shorten the \
                 run, lower --rate or add --sessions",
                DRAW.len()
            ));
        }
        Ok(())
    }
}

/// How `betbet-load game` prepares `betbet serve` over REST.
#[derive(Debug, Clone)]
pub struct BetbetSetup {
    /// `http://host:port`.
    pub base: String,
    /// An admin's login (`serve --demo` makes `admin`; its password is in
    /// `DATA_DIR/demo-credentials.txt`), to create the load's game.
    pub admin: String,
    pub admin_password: String,
    pub users: usize,
    pub deposit: String,
    pub stake: String,
    pub threads: usize,
}

/// Seats a user may hold in live sessions (the engine's default limit).
pub const SEATS_PER_USER_MAX: usize = 20;

/// Creates a Connect Four game with a long turn clock (a paced game must not time out),
/// registers the players and opens `sessions` staked sessions, each started by its second
/// player's join. Player `2k` and `2k + 1` (modulo the users) meet in session `k`.
pub fn betbet_tables(setup: &BetbetSetup, sessions: usize) -> Result<Vec<Table>, String> {
    use super::fixture::{Rest, in_parallel, register_users, run_tag, text};
    use serde_json::json;
    let users = setup.users.max(2);
    if (2 * sessions).div_ceil(users) > SEATS_PER_USER_MAX {
        return Err(format!(
            "a user holds at most {SEATS_PER_USER_MAX} seats: use at least {} --users",
            (2 * sessions).div_ceil(SEATS_PER_USER_MAX)
        ));
    }
    let rest = Rest::new(&setup.base);
    let login = rest.post(
        "/api/v1/auth/login",
        None,
        &json!({"username": setup.admin, "password": setup.admin_password}),
        200,
    )?;
    let admin = text(&login, "access_token")?;
    let tag = run_tag();
    let game = rest.post(
        "/api/v1/games/create",
        Some(&admin),
        &json!({
            "name": format!("Load Connect Four {tag}"),
            "category": "board",
            "rule_set": "connect_four",
            "turn_clock_ms": 600_000,
            "start_timeout_secs": 3_600,
        }),
        201,
    )?;
    let game = text(&game, "id")?;
    let players = register_users(&rest, &tag, users, &setup.deposit, setup.threads)?;
    let ws_base = setup.base.replacen("http://", "ws://", 1);
    let started = Instant::now();
    let tables = in_parallel(sessions, setup.threads, |k| {
        let creator = &players[2 * k % users];
        let joiner = &players[(2 * k + 1) % users];
        let session = rest.post(
            "/api/v1/sessions/create",
            Some(&creator.token),
            &json!({"game_id": game, "stake": setup.stake}),
            201,
        )?;
        let id = text(&session, "id")?;
        let joined = rest.post(
            &format!("/api/v1/sessions/{id}/join"),
            Some(&joiner.token),
            &json!({}),
            200,
        )?;
        let first_player = &joined["state"]["first_player_id"];
        let first = usize::from(joined["players"][0]["user_id"] != *first_player);
        let url = |token: &str| format!("{ws_base}/ws/game/{id}?token={token}");
        Ok(Table {
            urls: [url(&creator.token), url(&joiner.token)],
            first,
        })
    })?;
    eprintln!(
        "setup: {sessions} sessions of game {game} created and started in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(tables)
}

/// What a session's readers tell it.
#[derive(Debug)]
pub enum Signal {
    /// The room's state changed (a `game_update`, a Colyseus state patch).
    Update,
    /// The mover's move was accepted (betbet answers each request).
    Accepted,
    /// The move was refused, with the server's code.
    Rejected(String),
    /// The connection ended, with the reason.
    Closed(String),
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow)]
    data: Option<ErrorData<'a>>,
}

#[derive(Deserialize)]
struct ErrorData<'a> {
    #[serde(borrow)]
    code: Option<&'a str>,
}

/// A frame, as the session needs it.
fn classify(peer: Peer, message: &Message) -> Option<Signal> {
    match (peer, message) {
        (_, Message::Close(frame)) => Some(Signal::Closed(match frame {
            Some(f) => format!("close {} \"{}\"", u16::from(f.code), f.reason),
            None => "close without a code".to_owned(),
        })),
        (Peer::Betbet, Message::Text(text)) => {
            let envelope: Envelope<'_> = serde_json::from_str(text.as_str()).ok()?;
            match envelope.kind {
                "game_update" => Some(Signal::Update),
                "move_accepted" => Some(Signal::Accepted),
                "error" => Some(Signal::Rejected(
                    envelope
                        .data
                        .and_then(|d| d.code)
                        .unwrap_or("error")
                        .to_owned(),
                )),
                _ => None,
            }
        }
        (Peer::Colyseus, Message::Binary(bytes)) => super::colyseus::classify(bytes),
        _ => None,
    }
}

/// The move message for column `column` (request `k`).
fn move_message(peer: Peer, column: u8, k: u64) -> Message {
    match peer {
        Peer::Betbet => Message::Text(
            format!(
                r#"{{"type":"game_move","request_id":{k},"data":{{"move":"{}"}}}}"#,
                char::from(b'0' + column)
            )
            .into(),
        ),
        Peer::Colyseus => Message::Binary(super::colyseus::move_frame(column).into()),
    }
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
}

/// Opens a player's room and waits for its first state.
async fn connect(peer: Peer, url: &str) -> Result<Socket, String> {
    let attempt = async {
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(config()), true)
                .await
                .map_err(|e| format!("connect {url}: {e}"))?;
        match peer {
            Peer::Betbet => loop {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) if text.as_str().contains("\"snapshot\"") => {
                        return Ok(socket);
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return Err(format!("closed before the snapshot: {frame:?}"));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(format!("reading the snapshot: {e}")),
                    None => return Err("closed before the snapshot".to_owned()),
                }
            },
            Peer::Colyseus => super::colyseus::handshake(&mut socket)
                .await
                .map(|()| socket),
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| format!("connect {url}: timed out"))?
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds")
}

/// What the run measured; moves count when they were due inside the window.
pub struct GameStats {
    window: (Instant, Instant),
    /// Moves sent and updates seen, all (for the progress line) and in the window.
    sent_live: AtomicU64,
    updated_live: AtomicU64,
    sent: AtomicU64,
    updated: AtomicU64,
    latency: Mutex<Latencies>,
    errors: Mutex<BTreeMap<String, u64>>,
    pub disconnects: AtomicU64,
}

struct Latencies {
    /// Send → the opponent's update, in the window.
    from_send: Histogram<u64>,
    /// Due time → the opponent's update, in the window.
    from_due: Histogram<u64>,
    /// Send → update since the last progress line.
    second: Histogram<u64>,
}

impl GameStats {
    fn new(window: (Instant, Instant)) -> GameStats {
        GameStats {
            window,
            sent_live: AtomicU64::new(0),
            updated_live: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            updated: AtomicU64::new(0),
            latency: Mutex::new(Latencies {
                from_send: histogram(),
                from_due: histogram(),
                second: histogram(),
            }),
            errors: Mutex::new(BTreeMap::new()),
            disconnects: AtomicU64::new(0),
        }
    }

    fn measured(&self, due: Instant) -> bool {
        due >= self.window.0 && due < self.window.1
    }

    fn sent(&self, due: Instant) {
        self.sent_live.fetch_add(1, Ordering::Relaxed);
        if self.measured(due) {
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn updated(&self, due: Instant, sent: Instant, at: Instant) {
        self.updated_live.fetch_add(1, Ordering::Relaxed);
        let micros = |d: Duration| (d.as_micros() as u64).clamp(1, LATENCY_US_MAX);
        let mut latency = self.latency.lock().expect("latency lock");
        latency.second.record(micros(at - sent)).expect("clamped");
        if self.measured(due) {
            self.updated.fetch_add(1, Ordering::Relaxed);
            latency
                .from_send
                .record(micros(at - sent))
                .expect("clamped");
            latency.from_due.record(micros(at - due)).expect("clamped");
        }
    }

    fn error(&self, what: String) {
        *self
            .errors
            .lock()
            .expect("errors lock")
            .entry(what)
            .or_default() += 1;
    }
}

type Writer = SplitSink<Socket, Message>;
/// A session's readers' signals: the player, the signal, when it was read.
type Signals = mpsc::UnboundedReceiver<(usize, Signal, Instant)>;

/// Reads one socket into the session's channel until it ends.
async fn read(
    peer: Peer,
    player: usize,
    mut stream: SplitStream<Socket>,
    tx: mpsc::UnboundedSender<(usize, Signal, Instant)>,
) {
    while let Some(message) = stream.next().await {
        let signal = match message {
            Ok(message) => classify(peer, &message),
            Err(e) => Some(Signal::Closed(e.to_string())),
        };
        if let Some(signal) = signal {
            let closed = matches!(signal, Signal::Closed(_));
            if tx.send((player, signal, Instant::now())).is_err() || closed {
                return;
            }
        }
    }
    let _ = tx.send((
        player,
        Signal::Closed("connection dropped".to_owned()),
        Instant::now(),
    ));
}

/// Plays one session's moves on its schedule until the window ends.
async fn play(
    peer: Peer,
    table: Table,
    (mut writers, mut rx): (Vec<Writer>, Signals),
    (start, interval): (Instant, Duration),
    stats: Arc<GameStats>,
) -> (Vec<Writer>, Signals) {
    let mut mover = table.first;
    let mut updates = [0usize; 2];
    for (k, &column) in DRAW.iter().enumerate() {
        let due = start + interval.mul_f64(k as f64);
        if due >= stats.window.1 {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let sent = Instant::now();
        if let Err(e) = writers[mover]
            .send(move_message(peer, column - b'0', k as u64))
            .await
        {
            stats.disconnects.fetch_add(1, Ordering::Relaxed);
            stats.error(format!("send: {e}"));
            return (writers, rx);
        }
        stats.sent(due);
        let opponent = 1 - mover;
        let deadline = tokio::time::Instant::now() + UPDATE_TIMEOUT;
        // Each move changes the room once for each player: the opponent's (k+1)-th update
        // is this move's.
        while updates[opponent] <= k {
            let Ok(Some((player, signal, at))) = tokio::time::timeout_at(deadline, rx.recv()).await
            else {
                stats.error("no update within 30 s".to_owned());
                return (writers, rx);
            };
            match signal {
                Signal::Update => {
                    updates[player] += 1;
                    if player == opponent && updates[player] == k + 1 {
                        stats.updated(due, sent, at);
                    }
                }
                Signal::Accepted => {}
                Signal::Rejected(code) => {
                    stats.error(format!("move refused: {code}"));
                    return (writers, rx);
                }
                Signal::Closed(reason) => {
                    stats.disconnects.fetch_add(1, Ordering::Relaxed);
                    stats.error(format!("player {player}: {reason}"));
                    return (writers, rx);
                }
            }
        }
        mover = opponent;
    }
    // Kept open until every session is done: a room closing early would load the server
    // while the others still play.
    (writers, rx)
}

/// Connects every table's players, plays the schedule and returns the report.
pub async fn run(
    tables: Vec<Table>,
    options: GameOptions,
    host: Arc<Mutex<Host>>,
) -> Result<String, String> {
    let peer = options.peer;
    let connected_since = Instant::now();
    let permits = Arc::new(Semaphore::new(options.connect_concurrency.max(1)));
    let mut connecting = JoinSet::new();
    let mut signals = Vec::with_capacity(tables.len());
    for (i, table) in tables.iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel();
        signals.push(rx);
        let urls = table.urls.clone();
        let permits = Arc::clone(&permits);
        // The players join in order (a Colyseus room seats them as they join), each read
        // at once so that pings are answered while the others connect (a Colyseus server
        // drops a socket that misses two, 6 to 9 s).
        connecting.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("open semaphore");
            let mut writers = Vec::with_capacity(2);
            for (player, url) in urls.iter().enumerate() {
                let (sink, stream) = connect(peer, url).await?.split();
                tokio::spawn(read(peer, player, stream, tx.clone()));
                writers.push(sink);
            }
            Ok::<_, String>((i, writers))
        });
    }
    let mut writers: Vec<Vec<Writer>> = tables.iter().map(|_| Vec::new()).collect();
    while let Some(joined) = connecting.join_next().await {
        let (i, pair) = joined.map_err(|e| format!("connect task: {e}"))??;
        writers[i] = pair;
    }
    eprintln!(
        "{} players in {} sessions connected in {:.1} s",
        tables.len() * 2,
        tables.len(),
        connected_since.elapsed().as_secs_f64()
    );
    let start = Instant::now() + Duration::from_millis(500);
    let window = (
        start + options.warmup,
        start + options.warmup + options.duration,
    );
    let stats = Arc::new(GameStats::new(window));
    let sessions = tables.len();
    let interval = Duration::from_secs_f64(sessions as f64 / options.rate);
    let mut playing = JoinSet::new();
    for (i, ((table, pair), rx)) in tables.into_iter().zip(writers).zip(signals).enumerate() {
        let offset = Duration::from_secs_f64(i as f64 / options.rate);
        playing.spawn(play(
            peer,
            table,
            (pair, rx),
            (start + offset, interval),
            Arc::clone(&stats),
        ));
    }
    // A line a second while the sessions play; the CPU marks at the window's edges.
    let progress = {
        let (stats, host) = (Arc::clone(&stats), Arc::clone(&host));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let (mut sent, mut updated) = (0, 0);
            loop {
                tick.tick().await;
                let now = Instant::now();
                let (server_cpu, own_cpu, rss) = host.lock().expect("host lock").sample();
                let (s, u) = (
                    stats.sent_live.load(Ordering::Relaxed),
                    stats.updated_live.load(Ordering::Relaxed),
                );
                let second = {
                    let mut latency = stats.latency.lock().expect("latency lock");
                    let p = (
                        latency.second.value_at_quantile(0.5),
                        latency.second.value_at_quantile(0.99),
                    );
                    latency.second.reset();
                    p
                };
                eprintln!(
                    "t={:>5.1}s moves {}/s updates {}/s p50 {} ms p99 {} ms | disconnects {} | \
                     server cpu {server_cpu:.0}% rss {} MiB | generator cpu {own_cpu:.0}%",
                    (now - start).as_secs_f64(),
                    s - sent,
                    u - updated,
                    ms(second.0),
                    ms(second.1),
                    stats.disconnects.load(Ordering::Relaxed),
                    rss.map_or(0, |kib| kib / 1024),
                );
                (sent, updated) = (s, u);
                if now >= window.1 {
                    return;
                }
            }
        })
    };
    // The CPU over exactly the window.
    let marks = {
        let host = Arc::clone(&host);
        tokio::spawn(async move {
            tokio::time::sleep_until(window.0.into()).await;
            host.lock().expect("host lock").mark_measure_start();
            tokio::time::sleep_until(window.1.into()).await;
            host.lock().expect("host lock").mark_measure_end();
        })
    };
    let mut done = Vec::with_capacity(sessions);
    while let Some(finished) = playing.join_next().await {
        done.push(finished.map_err(|e| format!("session task: {e}"))?);
    }
    marks.await.map_err(|e| format!("marks task: {e}"))?;
    progress.await.map_err(|e| format!("progress task: {e}"))?;
    for (writers, _) in &mut done {
        for writer in writers {
            let _ = writer.close().await;
        }
    }
    let host = host.lock().expect("host lock");
    Ok(report(peer, sessions, &options, &stats, &host))
}

fn report(
    peer: Peer,
    sessions: usize,
    options: &GameOptions,
    stats: &GameStats,
    host: &Host,
) -> String {
    let latency = stats.latency.lock().expect("latency lock");
    let seconds = options.duration.as_secs_f64();
    let sent = stats.sent.load(Ordering::Relaxed);
    let updated = stats.updated.load(Ordering::Relaxed);
    let (server_cpu, own_cpu) = host.measured_cpu.unwrap_or((f64::NAN, f64::NAN));
    // CPU seconds per 1 000 moves: percent of a core × seconds / moves.
    let per_thousand = |cpu: f64| cpu / 100.0 * seconds / updated.max(1) as f64 * 1_000.0;
    let mut out = format!(
        "== betbet-load game against {} ==\n\
         shape: {} players in {sessions} sessions, {} moves/s offered, warm-up {:.0} s, \
         measured {seconds:.0} s\n\
         moves: {sent} sent in the window ({:.0}/s), {updated} seen by the opponent ({:.0}/s)\n\
         move -> opponent's update, from the send: {}\n\
         move -> opponent's update, from the due time: {}\n\
         disconnects: {}\n",
        peer.name(),
        sessions * 2,
        options.rate,
        options.warmup.as_secs_f64(),
        sent as f64 / seconds,
        updated as f64 / seconds,
        percentiles(&latency.from_send),
        percentiles(&latency.from_due),
        stats.disconnects.load(Ordering::Relaxed),
    );
    let errors = stats.errors.lock().expect("errors lock");
    if !errors.is_empty() {
        out.push_str("errors:\n");
        for (what, count) in errors.iter() {
            out.push_str(&format!("  {count} × {what}\n"));
        }
    }
    out.push_str(&format!(
        "server: cpu {server_cpu:.0}% of a core ({:.3} cpu-s per 1 000 moves), rss max {} MiB\n\
         generator: cpu {own_cpu:.0}% of a core ({:.3} cpu-s per 1 000 moves)",
        per_thousand(server_cpu),
        host.rss_kib_max / 1024,
        per_thousand(own_cpu),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::DRAW;

    /// Whether the piece just played at (`column`, `row`) completes four in a row.
    fn four(board: &[[u8; 6]; 7], column: usize, row: usize) -> bool {
        let player = board[column][row];
        [(1, 0), (0, 1), (1, 1), (1, -1)].iter().any(|&(dc, dr)| {
            let mut count = 1;
            for sign in [1i32, -1] {
                let (mut c, mut r) = (column as i32 + dc * sign, row as i32 + dr * sign);
                while (0..7).contains(&c)
                    && (0..6).contains(&r)
                    && board[c as usize][r as usize] == player
                {
                    count += 1;
                    c += dc * sign;
                    r += dr * sign;
                }
            }
            count >= 4
        })
    }

    #[test]
    fn the_draw_fills_the_board_with_no_four_in_a_row() {
        let mut board = [[0u8; 6]; 7];
        let mut heights = [0usize; 7];
        for (k, &column) in DRAW.iter().enumerate() {
            let column = usize::from(column - b'0');
            let row = heights[column];
            assert!(row < 6, "move {k}: column {column} is full");
            board[column][row] = 1 + (k % 2) as u8;
            heights[column] += 1;
            assert!(!four(&board, column, row), "move {k} wins");
        }
        assert_eq!(heights, [6; 7]);
    }
}
