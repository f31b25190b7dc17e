//! The rule-set interface and the state of each rule set.
//!
//! A rule set is deterministic and sans-IO: it starts from the player count and the
//! session's provably fair draws, validates and applies moves in its own notation, says
//! whose clock runs, decides the outcome, and renders the position. The session around it
//! (`sessions`) owns the money, the clocks and the players.

use super::chess::Chess;
use super::connect_four::{Board, Outcome as Dropped};
use super::crash::Crash;
use super::fairness;
use super::quick_math::QuickMath;
use betbet_protocol::games::{
    ConnectFourView, DrawPurpose, FairDraw, GameEnd, GameStateView, RuleSet, SERVER_SEED_BYTES,
};
use betbet_protocol::message::Empty;
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::Timestamp;

/// How a game ended: the winning seats (all the drawing seats for a draw).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub end: GameEnd,
    pub winners: Vec<usize>,
    /// Each seat's payout when the rule set decides the amounts (crash); empty when the
    /// pot less the rake is split equally between the winners.
    pub payouts: Vec<i64>,
}

/// The session's random draws: each draw takes the next fraction of the HMAC stream of
/// (server seed, combined client seed, nonce) and is recorded for the fairness view.
pub(crate) struct Draws<'a> {
    server_seed: &'a [u8; SERVER_SEED_BYTES],
    client_seed: &'a str,
    nonce: u64,
    taken: u32,
    pub(crate) recorded: Vec<FairDraw>,
}

impl<'a> Draws<'a> {
    pub(crate) fn new(
        server_seed: &'a [u8; SERVER_SEED_BYTES],
        client_seed: &'a str,
        nonce: u64,
    ) -> Self {
        Draws {
            server_seed,
            client_seed,
            nonce,
            taken: 0,
            recorded: Vec::new(),
        }
    }

    /// A uniform choice among `n`: `floor(f × n)` of the next fraction.
    pub(crate) fn pick(&mut self, purpose: DrawPurpose, n: u32) -> u32 {
        self.draw(purpose, |fraction| u64::from(fairness::pick(fraction, n))) as u32
    }

    /// The next fraction (f × 2^32) of the stream, recorded with the outcome `decide`
    /// makes of it.
    pub(crate) fn draw(&mut self, purpose: DrawPurpose, decide: impl FnOnce(u32) -> u64) -> u64 {
        let (round, index) = (self.taken / 8, (self.taken % 8) as u8);
        let block = fairness::block(self.server_seed, self.client_seed, self.nonce, round);
        let at = usize::from(index) * 4;
        let fraction = u32::from_be_bytes([block[at], block[at + 1], block[at + 2], block[at + 3]]);
        self.taken += 1;
        let outcome = decide(fraction);
        self.recorded.push(FairDraw {
            purpose,
            nonce: self.nonce,
            round,
            index,
            fraction,
            outcome,
        });
        outcome
    }
}

/// What a rule set starts from besides its draws: the session's players and clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start {
    pub players: usize,
    pub now: Timestamp,
    pub turn_clock_ms: u32,
    pub increment_ms: u32,
    pub stake: i64,
    pub tick_hz: u32,
    pub house_edge_bp: u16,
    pub round_profit_max: i64,
    pub questions: u32,
}

/// What every rule set implements.
pub(crate) trait Rules: Sized {
    /// The position at the start, drawing what is random from `draws`.
    fn start(start: &Start, draws: &mut Draws<'_>) -> Self;
    /// The seat whose turn (and clock) it is; `None` when every seat plays at once.
    fn to_move(&self) -> Option<usize>;
    /// Applies `seat`'s move at `now`, or refuses it having changed nothing. `Some` ends
    /// the game.
    fn apply_move(
        &mut self,
        seat: usize,
        mv: &str,
        now: Timestamp,
    ) -> Result<Option<Outcome>, ResultCode>;
    /// When the mover's time runs out, after a change at `now`: by default the session's
    /// per-move clock, restarted on every move.
    fn turn_deadline(&self, now: Timestamp, turn_clock_ms: u32) -> Option<Timestamp> {
        self.to_move()
            .map(|_| now.saturating_add_micros(i64::from(turn_clock_ms) * 1_000))
    }
    /// The outcome when `seat`'s time ran out at `now`: by default a loss.
    fn timeout(&mut self, seat: usize, now: Timestamp) -> Outcome {
        let _ = now;
        self.forfeit(seat, GameEnd::Timeout)
            .expect("a game with turn clocks can be forfeited")
    }
    /// A realtime game's tick at `now` (when nobody's turn it is); `Some` ends the game.
    fn on_tick(&mut self, now: Timestamp) -> Option<Outcome> {
        let _ = now;
        None
    }
    /// After a tick that did not end the game, what changed as a delta the rooms send
    /// instead of the whole session: the tick and the multiplier (hundredths). `None`
    /// (the default): the session's full view goes out.
    fn tick_delta(&self) -> Option<(u32, u32)> {
        None
    }
    /// The outcome when `seat` gives up (`end` says how), or why the game allows none.
    fn forfeit(&mut self, seat: usize, end: GameEnd) -> Result<Outcome, ResultCode>;
    /// The position as anyone may see it.
    fn view(&self) -> GameStateView;
    /// A seat's score at the end when the rules keep one (points, a multiplier); by
    /// default 1 for a win and 0 otherwise.
    fn score(&self, seat: usize) -> Option<i64> {
        let _ = seat;
        None
    }
    /// The position as the player in `seat` sees it (`None`: a spectator); by default
    /// everyone sees the same.
    fn view_for(&self, seat: Option<usize>) -> GameStateView {
        let _ = seat;
        self.view()
    }
}

/// Connect Four: seat `first_seat` plays `X` and moves first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectFour {
    pub first_seat: u8,
    /// The columns played; the board is their replay (so a snapshot stores only these).
    pub moves: Vec<u8>,
    pub board: Board,
    pub winning_line: Option<[u8; 4]>,
}

impl ConnectFour {
    /// Rebuilds the position from its moves, or `None` if they are not a legal game.
    pub fn replay(first_seat: u8, moves: Vec<u8>) -> Option<ConnectFour> {
        if first_seat > 1 {
            return None;
        }
        let mut game = ConnectFour {
            first_seat,
            moves: Vec::with_capacity(moves.len()),
            board: Board::new(),
            winning_line: None,
        };
        for column in moves {
            match game.board.drop_disc(column).ok()? {
                Dropped::Won { line, .. } => game.winning_line = Some(line),
                Dropped::Ongoing | Dropped::Draw => {}
            }
            game.moves.push(column);
        }
        Some(game)
    }

    fn seat_of_disc(&self, disc: u8) -> usize {
        if disc == 1 {
            usize::from(self.first_seat)
        } else {
            usize::from(1 - self.first_seat)
        }
    }
}

impl Rules for ConnectFour {
    fn start(start: &Start, draws: &mut Draws<'_>) -> Self {
        debug_assert_eq!(start.players, 2);
        let first = draws.pick(DrawPurpose::FirstMover, 2) as u8;
        ConnectFour {
            first_seat: first,
            moves: Vec::new(),
            board: Board::new(),
            winning_line: None,
        }
    }

    fn to_move(&self) -> Option<usize> {
        if self.board.outcome() != Dropped::Ongoing {
            return None;
        }
        Some(self.seat_of_disc(self.board.to_move()))
    }

    fn apply_move(
        &mut self,
        seat: usize,
        mv: &str,
        _now: Timestamp,
    ) -> Result<Option<Outcome>, ResultCode> {
        if self.to_move() != Some(seat) {
            return Err(ResultCode::NotYourTurn);
        }
        // One digit, the column from 0 (left) to 6.
        let column = match mv.as_bytes() {
            [digit @ b'0'..=b'9'] => digit - b'0',
            _ => return Err(ResultCode::IllegalMove),
        };
        // Off the board, a full column or a finished game: not a legal move.
        let dropped = self
            .board
            .drop_disc(column)
            .map_err(|_| ResultCode::IllegalMove)?;
        self.moves.push(column);
        Ok(match dropped {
            Dropped::Ongoing => None,
            Dropped::Won { player, line } => {
                self.winning_line = Some(line);
                Some(Outcome {
                    end: GameEnd::Win,
                    winners: vec![self.seat_of_disc(player)],
                    payouts: Vec::new(),
                })
            }
            Dropped::Draw => Some(Outcome {
                end: GameEnd::Draw,
                winners: vec![0, 1],
                payouts: Vec::new(),
            }),
        })
    }

    fn forfeit(&mut self, seat: usize, end: GameEnd) -> Result<Outcome, ResultCode> {
        Ok(Outcome {
            end,
            winners: vec![1 - seat],
            payouts: Vec::new(),
        })
    }

    fn view(&self) -> GameStateView {
        GameStateView::ConnectFour(ConnectFourView {
            rows: self.board.rows_text().to_vec(),
            moves: self.moves.clone(),
            first_seat: u32::from(self.first_seat),
            to_move: self.to_move().map(|s| s as u32),
            winning_line: self.winning_line.map(|l| l.to_vec()).unwrap_or_default(),
        })
    }
}

/// A session's position, by rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleState {
    /// Waiting for players (or cancelled before the start).
    NotStarted,
    ConnectFour(ConnectFour),
    Chess(Box<Chess>),
    Crash(Box<Crash>),
    QuickMath(Box<QuickMath>),
}

/// Calls `$body` with the rule set's game as `$game`, or gives `$idle` before the start.
macro_rules! each_rule_set {
    ($state:expr, $game:ident => $body:expr, $idle:expr) => {
        match $state {
            RuleState::NotStarted => $idle,
            RuleState::ConnectFour($game) => $body,
            RuleState::Chess($game) => $body,
            RuleState::Crash($game) => $body,
            RuleState::QuickMath($game) => $body,
        }
    };
}

impl RuleState {
    pub(crate) fn start(rule_set: RuleSet, start: &Start, draws: &mut Draws<'_>) -> RuleState {
        match rule_set {
            RuleSet::ConnectFour => RuleState::ConnectFour(ConnectFour::start(start, draws)),
            RuleSet::Chess => RuleState::Chess(Box::new(Chess::start(start, draws))),
            RuleSet::Crash => RuleState::Crash(Box::new(Crash::start(start, draws))),
            RuleSet::QuickMath => RuleState::QuickMath(Box::new(QuickMath::start(start, draws))),
        }
    }

    pub(crate) fn apply_move(
        &mut self,
        seat: usize,
        mv: &str,
        now: Timestamp,
    ) -> Result<Option<Outcome>, ResultCode> {
        each_rule_set!(
            self,
            game => game.apply_move(seat, mv, now),
            Err(ResultCode::GameSessionNotActive)
        )
    }

    /// When the session's timer next fires while it is played: the mover's flag, or a
    /// realtime game's next tick; `None` once nothing more can happen.
    pub(crate) fn turn_deadline(&self, now: Timestamp, turn_clock_ms: u32) -> Option<Timestamp> {
        each_rule_set!(self, game => game.turn_deadline(now, turn_clock_ms), None)
    }

    /// The timer fired at `now`: the mover loses on time, or a realtime game ticks.
    pub(crate) fn on_timer(&mut self, now: Timestamp) -> Option<Outcome> {
        each_rule_set!(
            self,
            game => match game.to_move() {
                Some(seat) => Some(game.timeout(seat, now)),
                None => game.on_tick(now),
            },
            unreachable!("no clock before the start")
        )
    }

    pub(crate) fn tick_delta(&self) -> Option<(u32, u32)> {
        each_rule_set!(self, game => game.tick_delta(), None)
    }

    pub(crate) fn forfeit(&mut self, seat: usize, end: GameEnd) -> Result<Outcome, ResultCode> {
        each_rule_set!(
            self,
            game => game.forfeit(seat, end),
            Err(ResultCode::GameSessionNotActive)
        )
    }

    pub(crate) fn score(&self, seat: usize) -> Option<i64> {
        each_rule_set!(self, game => game.score(seat), None)
    }

    /// The position as the player in `seat` sees it (`None`: anyone else).
    pub(crate) fn view_for(&self, seat: Option<usize>) -> GameStateView {
        each_rule_set!(self, game => game.view_for(seat), GameStateView::NotStarted(Empty {}))
    }
}
