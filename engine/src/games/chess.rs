//! Chess: FIDE's laws of chess through `cozy-chess` (move generation, SAN and UCI), with
//! game clocks, increments and draw offers.
//!
//! Games end by themselves, as on the big chess sites: checkmate, stalemate, the third
//! occurrence of a position (FIDE's "same position": same pieces, side to move, castling
//! rights and *capturable* en passant square), fifty moves by each side without a capture
//! or a pawn move, and dead positions by insufficient material (K v K, K and one minor
//! piece v K, kings and bishops all on squares of one colour). A flag fall loses, unless
//! the other side has only its king (it could never mate), which is a draw.
//!
//! Moves are UCI (`e2e4`, `e7e8q`, castling as the king's two squares `e1g1`) or SAN
//! (`Nf3`, `exd8=Q+`, `O-O`). A player may offer a draw (`offer_draw`, once per move of
//! the game); the opponent accepts (`accept_draw`) or declines (`decline_draw`, or by
//! moving). The game is bounded by the fifty-move rule: at most 5 949 moves.

use super::rules::{Draws, Outcome, Rules, Start};
use betbet_protocol::games::{ChessTermination, ChessView, DrawPurpose, GameEnd, GameStateView};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::Timestamp;
use cozy_chess::util::{display_san_move, display_uci_move, parse_san_move, parse_uci_move};
use cozy_chess::{BitBoard, Board, Color, GameStatus, Move, Piece};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chess {
    /// The seat playing white.
    pub white_seat: u8,
    /// The moves played, in `cozy-chess`'s own notation (castling is the king capturing
    /// its rook); the position is their replay.
    pub moves: Vec<Move>,
    pub uci: Vec<String>,
    pub san: Vec<String>,
    pub board: Board,
    /// The positions since the last capture or pawn move, the current one last: the only
    /// ones that can repeat it.
    positions: Vec<Board>,
    /// Each colour's time left, white first, in µs, as of `turn_started`.
    pub clock_us: [i64; 2],
    pub increment_us: i64,
    /// When the mover's clock started.
    pub turn_started: Timestamp,
    /// The seat whose draw offer stands.
    pub draw_offer: Option<u8>,
    /// Per seat, 1 + the ply count at that seat's last draw offer (0: none yet): one offer
    /// per move of the game.
    pub offered_at: [u32; 2],
    pub termination: Option<ChessTermination>,
}

fn color_index(color: Color) -> usize {
    match color {
        Color::White => 0,
        Color::Black => 1,
    }
}

/// Whether `side` has nothing but its king.
fn lone_king(board: &Board, side: Color) -> bool {
    board.colors(side).len() == 1
}

/// A dead position by material alone: no pawns, rooks or queens, and either at most one
/// minor piece in all, or only bishops, all on squares of one colour.
fn insufficient_material(board: &Board) -> bool {
    let heavy = board.pieces(Piece::Pawn) | board.pieces(Piece::Rook) | board.pieces(Piece::Queen);
    if !heavy.is_empty() {
        return false;
    }
    let knights = board.pieces(Piece::Knight);
    let bishops = board.pieces(Piece::Bishop);
    if knights.len() + bishops.len() <= 1 {
        return true;
    }
    knights.is_empty()
        && ((bishops & BitBoard::DARK_SQUARES).is_empty()
            || (bishops & BitBoard::LIGHT_SQUARES).is_empty())
}

impl Chess {
    fn seat_of(&self, color: Color) -> usize {
        match color {
            Color::White => usize::from(self.white_seat),
            Color::Black => usize::from(1 - self.white_seat),
        }
    }

    fn color_of(&self, seat: usize) -> Color {
        if seat == usize::from(self.white_seat) {
            Color::White
        } else {
            Color::Black
        }
    }

    fn over(&self) -> bool {
        self.termination.is_some()
    }

    /// A fresh game: white to move, both clocks at `base_ms`, white's running from `now`.
    fn new(white_seat: u8, base_ms: u32, increment_ms: u32, now: Timestamp) -> Chess {
        let board = Board::default();
        let base = i64::from(base_ms) * 1_000;
        Chess {
            white_seat,
            moves: Vec::new(),
            uci: Vec::new(),
            san: Vec::new(),
            positions: vec![board.clone()],
            board,
            clock_us: [base, base],
            increment_us: i64::from(increment_ms) * 1_000,
            turn_started: now,
            draw_offer: None,
            offered_at: [0, 0],
            termination: None,
        }
    }

    /// Rebuilds a game from what a snapshot keeps, or `None` if the moves are not a legal
    /// game or the rest does not fit them.
    #[allow(clippy::too_many_arguments)]
    pub fn replay(
        white_seat: u8,
        moves: &[Move],
        clock_us: [i64; 2],
        increment_us: i64,
        turn_started: Timestamp,
        draw_offer: Option<u8>,
        offered_at: [u32; 2],
        termination: Option<ChessTermination>,
    ) -> Option<Chess> {
        if white_seat > 1 || draw_offer.is_some_and(|s| s > 1) || increment_us < 0 {
            return None;
        }
        let mut game = Chess::new(white_seat, 0, 0, turn_started);
        for &mv in moves {
            if game.over() || !game.board.is_legal(mv) {
                return None;
            }
            game.play(mv);
        }
        // A game that ended by the board must say so; one still going may have ended
        // otherwise (agreement, a flag, a resignation).
        if game.termination.is_some() && game.termination != termination {
            return None;
        }
        game.clock_us = clock_us;
        game.increment_us = increment_us;
        game.turn_started = turn_started;
        game.draw_offer = draw_offer;
        game.offered_at = offered_at;
        game.termination = termination;
        Some(game)
    }

    /// Plays a legal move on the board and records it; says how the board ended the game,
    /// if it did.
    fn play(&mut self, mv: Move) -> Option<ChessTermination> {
        let uci = display_uci_move(&self.board, mv).to_string();
        let san = display_san_move(&self.board, mv).to_string();
        self.board.play_unchecked(mv);
        self.moves.push(mv);
        self.uci.push(uci);
        self.san.push(san);
        if self.board.halfmove_clock() == 0 {
            self.positions.clear();
        }
        self.positions.push(self.board.clone());
        let ended = match self.board.status() {
            GameStatus::Won => Some(ChessTermination::Checkmate),
            GameStatus::Drawn if self.board.halfmove_clock() >= 100 && self.has_moves() => {
                Some(ChessTermination::FiftyMoveRule)
            }
            GameStatus::Drawn => Some(ChessTermination::Stalemate),
            GameStatus::Ongoing if insufficient_material(&self.board) => {
                Some(ChessTermination::InsufficientMaterial)
            }
            GameStatus::Ongoing => {
                let seen = self
                    .positions
                    .iter()
                    .filter(|p| p.same_position(&self.board))
                    .count();
                (seen >= 3).then_some(ChessTermination::ThreefoldRepetition)
            }
        };
        self.termination = ended;
        ended
    }

    fn has_moves(&self) -> bool {
        self.board.generate_moves(|_| true)
    }

    /// A move in UCI or SAN, if it is legal here.
    fn parse(&self, text: &str) -> Option<Move> {
        if let Ok(mv) = parse_uci_move(&self.board, text)
            && self.board.is_legal(mv)
        {
            return Some(mv);
        }
        // SAN is always legal when it parses.
        parse_san_move(&self.board, text).ok()
    }

    /// A win for `winner`, or a draw.
    fn outcome(winner: Option<usize>) -> Outcome {
        match winner {
            Some(seat) => Outcome {
                end: GameEnd::Win,
                winners: vec![seat],
                payouts: Vec::new(),
            },
            None => Outcome {
                end: GameEnd::Draw,
                winners: vec![0, 1],
                payouts: Vec::new(),
            },
        }
    }

    fn draw_offer(&mut self, seat: usize, mv: &str) -> Result<Option<Outcome>, ResultCode> {
        let other = (1 - seat) as u8;
        match mv {
            "offer_draw" => {
                let ply = self.moves.len() as u32 + 1;
                if self.draw_offer.is_some() || self.offered_at[seat] == ply {
                    return Err(ResultCode::IllegalMove);
                }
                self.draw_offer = Some(seat as u8);
                self.offered_at[seat] = ply;
                Ok(None)
            }
            "accept_draw" if self.draw_offer == Some(other) => {
                self.draw_offer = None;
                self.termination = Some(ChessTermination::Agreement);
                Ok(Some(Chess::outcome(None)))
            }
            "decline_draw" if self.draw_offer == Some(other) => {
                self.draw_offer = None;
                Ok(None)
            }
            _ => Err(ResultCode::IllegalMove),
        }
    }
}

impl Rules for Chess {
    /// The session's turn clock is each player's time for the game.
    fn start(start: &Start, draws: &mut Draws<'_>) -> Self {
        debug_assert_eq!(start.players, 2);
        let white = draws.pick(DrawPurpose::FirstMover, 2) as u8;
        Chess::new(white, start.turn_clock_ms, start.increment_ms, start.now)
    }

    fn to_move(&self) -> Option<usize> {
        (!self.over()).then(|| self.seat_of(self.board.side_to_move()))
    }

    fn apply_move(
        &mut self,
        seat: usize,
        mv: &str,
        now: Timestamp,
    ) -> Result<Option<Outcome>, ResultCode> {
        if self.over() {
            return Err(ResultCode::IllegalMove);
        }
        if mv.ends_with("_draw") {
            return self.draw_offer(seat, mv);
        }
        if self.to_move() != Some(seat) {
            return Err(ResultCode::NotYourTurn);
        }
        let parsed = self.parse(mv).ok_or(ResultCode::IllegalMove)?;
        let color = color_index(self.board.side_to_move());
        // The session refuses moves once the flag's deadline has passed, so the clock
        // still has time; the increment comes after the move.
        let elapsed = now.0.saturating_sub(self.turn_started.0).max(0);
        self.clock_us[color] = (self.clock_us[color] - elapsed).max(0) + self.increment_us;
        self.turn_started = now;
        // Moving declines the opponent's standing offer; the mover's own stands.
        if self.draw_offer == Some((1 - seat) as u8) {
            self.draw_offer = None;
        }
        let mover = self.board.side_to_move();
        Ok(self.play(parsed).map(|termination| {
            self.draw_offer = None;
            let winner = (termination == ChessTermination::Checkmate).then(|| self.seat_of(mover));
            Chess::outcome(winner)
        }))
    }

    /// The mover's flag falls when their time left has run from the turn's start.
    fn turn_deadline(&self, _now: Timestamp, _turn_clock_ms: u32) -> Option<Timestamp> {
        let seat = self.to_move()?;
        let left = self.clock_us[color_index(self.color_of(seat))];
        Some(self.turn_started.saturating_add_micros(left))
    }

    /// The flag fell: a loss, or a draw when the other side has only its king.
    fn timeout(&mut self, seat: usize, now: Timestamp) -> Outcome {
        let color = self.color_of(seat);
        let index = color_index(color);
        self.clock_us[index] = (self.clock_us[index] - (now.0 - self.turn_started.0)).max(0);
        self.turn_started = now;
        self.termination = Some(ChessTermination::Timeout);
        self.draw_offer = None;
        if lone_king(&self.board, !color) {
            Chess::outcome(None)
        } else {
            Outcome {
                end: GameEnd::Timeout,
                winners: vec![1 - seat],
                payouts: Vec::new(),
            }
        }
    }

    fn forfeit(&mut self, seat: usize, end: GameEnd) -> Result<Outcome, ResultCode> {
        self.termination = Some(match end {
            GameEnd::Abandoned => ChessTermination::Abandoned,
            _ => ChessTermination::Resignation,
        });
        self.draw_offer = None;
        Ok(Outcome {
            end,
            winners: vec![1 - seat],
            payouts: Vec::new(),
        })
    }

    fn view(&self) -> GameStateView {
        GameStateView::Chess(ChessView {
            fen: self.board.to_string(),
            moves: self.uci.clone(),
            san: self.san.clone(),
            white_seat: u32::from(self.white_seat),
            to_move: self.to_move().map(|s| s as u32),
            in_check: !self.board.checkers().is_empty(),
            clock_ms: self
                .clock_us
                .iter()
                .map(|&us| (us.max(0) / 1_000) as u64)
                .collect(),
            increment_ms: (self.increment_us / 1_000) as u32,
            turn_started: self.turn_started,
            draw_offer: self.draw_offer.map(u32::from),
            termination: self.termination,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use betbet_protocol::games::SERVER_SEED_BYTES;

    const START: Timestamp = Timestamp(1_000_000_000);

    /// A game with white on seat 0: 60 s each and 2 s a move.
    fn game() -> Chess {
        Chess::new(0, 60_000, 2_000, START)
    }

    /// A game from a FEN position (seat 0 white), to test endings far from the start.
    fn from_fen(fen: &str) -> Chess {
        let mut game = game();
        game.board = fen.parse().expect("fen");
        game.positions = vec![game.board.clone()];
        game
    }

    /// Plays space-separated moves alternately (the side to move's seat each time); the
    /// last answer.
    fn play(game: &mut Chess, moves: &str) -> Result<Option<Outcome>, ResultCode> {
        let mut last = Ok(None);
        for mv in moves.split_whitespace() {
            let seat = game.to_move().expect("a side to move");
            last = game.apply_move(seat, mv, START);
            assert!(last.is_ok(), "{mv} refused: {last:?}");
        }
        last
    }

    fn win(seat: usize) -> Result<Option<Outcome>, ResultCode> {
        Ok(Some(Outcome {
            end: GameEnd::Win,
            winners: vec![seat],
            payouts: Vec::new(),
        }))
    }

    fn draw() -> Result<Option<Outcome>, ResultCode> {
        Ok(Some(Outcome {
            end: GameEnd::Draw,
            winners: vec![0, 1],
            payouts: Vec::new(),
        }))
    }

    #[test]
    fn endings_of_known_games() {
        // (name, start FEN or the initial position, moves, outcome, termination)
        let cases: &[(&str, Option<&str>, &str, _, Option<ChessTermination>)] = &[
            (
                "scholar's mate in SAN",
                None,
                "e4 e5 Bc4 Nc6 Qh5 Nf6 Qxf7#",
                win(0),
                Some(ChessTermination::Checkmate),
            ),
            (
                "fool's mate in UCI: black mates",
                None,
                "f2f3 e7e5 g2g4 d8h4",
                win(1),
                Some(ChessTermination::Checkmate),
            ),
            (
                "Loyd's ten-move stalemate",
                None,
                "e3 a5 Qh5 Ra6 Qxa5 h5 h4 Rah6 Qxc7 f6 Qxd7+ Kf7 Qxb7 Qd3 Qxb8 Qh7 Qxc8 Kg6 Qe6",
                draw(),
                Some(ChessTermination::Stalemate),
            ),
            (
                "the start position a third time",
                None,
                "Nf3 Nf6 Ng1 Ng8 Nf3 Nf6 Ng1 Ng8",
                draw(),
                Some(ChessTermination::ThreefoldRepetition),
            ),
            (
                "twice is not yet a repetition draw",
                None,
                "Nf3 Nf6 Ng1 Ng8 Nf3 Nf6 Ng1",
                Ok(None),
                None,
            ),
            (
                "the hundredth quiet half-move",
                Some("7k/8/8/8/8/8/R7/K7 w - - 99 80"),
                "Ra3",
                draw(),
                Some(ChessTermination::FiftyMoveRule),
            ),
            (
                "mate on the hundredth half-move is mate",
                Some("7k/8/6K1/8/8/8/8/R7 w - - 99 80"),
                "Ra8#",
                win(0),
                Some(ChessTermination::Checkmate),
            ),
            (
                "king takes the last piece: K v K",
                Some("k7/8/8/8/8/8/8/Kq6 w - - 0 1"),
                "Kxb1",
                draw(),
                Some(ChessTermination::InsufficientMaterial),
            ),
            (
                "K and bishop v K",
                Some("k7/8/8/8/8/8/1r6/KB6 w - - 0 1"),
                "Kxb2",
                draw(),
                Some(ChessTermination::InsufficientMaterial),
            ),
            (
                "K and rook v K plays on",
                Some("k7/8/8/8/8/8/1r6/KR6 w - - 0 1"),
                "Kxb2",
                Ok(None),
                None,
            ),
        ];
        for (name, fen, moves, expected, termination) in cases {
            let mut game = fen.map_or_else(game, from_fen);
            assert_eq!(&play(&mut game, moves), expected, "{name}");
            assert_eq!(&game.termination, termination, "{name}");
            assert_eq!(game.to_move().is_none(), termination.is_some(), "{name}");
        }
    }

    #[test]
    fn castling_en_passant_and_promotion() {
        let mut game = game();
        // Castling given as the king's two squares, shown the same way.
        play(&mut game, "e2e4 e7e5 g1f3 b8c6 f1c4 g8f6 e1g1").unwrap();
        assert_eq!(game.uci.last().unwrap(), "e1g1");
        assert_eq!(game.san.last().unwrap(), "O-O");
        assert!(
            game.board.to_string().ends_with("RNBQ1RK1 b kq - 5 4"),
            "{}",
            game.board
        );
        // And in SAN.
        play(&mut game, "Bc5 d3 O-O").unwrap();
        assert_eq!(game.uci.last().unwrap(), "e8g8");

        // En passant.
        let mut game = self::game();
        play(&mut game, "e4 a6 e5 d5").unwrap();
        play(&mut game, "exd6").unwrap();
        assert_eq!(game.uci.last().unwrap(), "e5d6");
        assert_eq!(game.board.piece_on("d5".parse().unwrap()), None);

        // Promotion, to a queen in UCI and to a knight in SAN.
        let mut game = from_fen("8/P6k/8/8/8/8/7p/K7 w - - 0 1");
        play(&mut game, "a7a8q h2h1=N").unwrap();
        assert_eq!(game.san, ["a8=Q", "h1=N"]);
        assert_eq!(
            game.board.piece_on("a8".parse().unwrap()),
            Some(Piece::Queen)
        );
        assert_eq!(
            game.board.piece_on("h1".parse().unwrap()),
            Some(Piece::Knight)
        );
    }

    #[test]
    fn refused_moves_change_nothing() {
        let mut game = game();
        play(&mut game, "e4").unwrap();
        let before = game.clone();
        for (seat, mv, code) in [
            (0, "d2d4", ResultCode::NotYourTurn),
            (1, "e7e4", ResultCode::IllegalMove),
            (1, "O-O", ResultCode::IllegalMove),
            (1, "Ke7e6", ResultCode::IllegalMove),
            (1, "e8g8", ResultCode::IllegalMove),
            (1, "", ResultCode::IllegalMove),
            (1, "a7a8q", ResultCode::IllegalMove),
            (1, "accept_draw", ResultCode::IllegalMove),
            (1, "decline_draw", ResultCode::IllegalMove),
            (1, "zz_draw", ResultCode::IllegalMove),
        ] {
            assert_eq!(game.apply_move(seat, mv, START), Err(code), "{mv}");
            assert_eq!(game, before, "{mv}");
        }
    }

    #[test]
    fn no_text_panics_the_parser() {
        // Every short string over the notation's alphabet, and a few odd ones.
        let alphabet: Vec<char> = "abcdefgh12345678KQRBNxO-=+#qrbn ".chars().collect();
        let mut game = game();
        play(&mut game, "e4 d5").unwrap();
        let mut texts: Vec<String> = vec!["O-O-O".into(), "é".into(), "\u{0}".into()];
        for &a in &alphabet {
            for &b in &alphabet {
                for &c in &alphabet {
                    texts.push([a, b, c].iter().collect());
                }
            }
        }
        for text in texts {
            let mut copy = game.clone();
            let _ = copy.apply_move(0, &text, START);
        }
    }

    #[test]
    fn clocks_run_for_the_mover_and_gain_the_increment() {
        let mut game = game();
        let at = |ms: i64| Timestamp(START.0 + ms * 1_000);
        assert_eq!(game.turn_deadline(START, 0), Some(at(60_000)));
        game.apply_move(0, "e4", at(5_000)).unwrap();
        // White used 5 s and gained 2; black's clock runs from the move.
        assert_eq!(game.clock_us, [57_000_000, 60_000_000]);
        assert_eq!(game.turn_deadline(at(5_000), 0), Some(at(65_000)));
        game.apply_move(1, "e5", at(15_000)).unwrap();
        assert_eq!(game.clock_us, [57_000_000, 52_000_000]);
        assert_eq!(game.turn_deadline(at(15_000), 0), Some(at(72_000)));
        // A draw offer does not stop the clock.
        game.apply_move(1, "offer_draw", at(16_000)).unwrap();
        assert_eq!(game.turn_deadline(at(16_000), 0), Some(at(72_000)));
        let outcome = game.timeout(0, at(72_000));
        assert_eq!(outcome.end, GameEnd::Timeout);
        assert_eq!(outcome.winners, [1]);
        assert_eq!(game.clock_us[0], 0);
        assert_eq!(game.termination, Some(ChessTermination::Timeout));
        assert_eq!(game.draw_offer, None);
    }

    #[test]
    fn a_flag_against_a_lone_king_is_a_draw() {
        // Black's flag falls against a queen: white wins.
        let mut game = from_fen("k7/8/8/8/8/8/8/KQ6 b - - 0 1");
        let outcome = game.timeout(1, START);
        assert_eq!((outcome.end, outcome.winners), (GameEnd::Timeout, vec![0]));
        // White's falls against a lone king, which could never mate: a draw.
        let mut game = from_fen("k7/8/8/8/8/8/8/KQ6 w - - 0 1");
        let outcome = game.timeout(0, START);
        assert_eq!((outcome.end, outcome.winners), (GameEnd::Draw, vec![0, 1]));
        assert_eq!(game.termination, Some(ChessTermination::Timeout));
    }

    #[test]
    fn draw_offers_stand_until_answered_or_a_reply_move() {
        let mut game = game();
        assert_eq!(game.apply_move(0, "offer_draw", START), Ok(None));
        // One offer at a time, once per move.
        assert_eq!(
            game.apply_move(0, "offer_draw", START),
            Err(ResultCode::IllegalMove)
        );
        assert_eq!(
            game.apply_move(1, "offer_draw", START),
            Err(ResultCode::IllegalMove)
        );
        // The offerer cannot accept their own offer.
        assert_eq!(
            game.apply_move(0, "accept_draw", START),
            Err(ResultCode::IllegalMove)
        );
        assert_eq!(game.apply_move(1, "decline_draw", START), Ok(None));
        assert_eq!(
            game.apply_move(0, "offer_draw", START),
            Err(ResultCode::IllegalMove),
            "again this move"
        );
        play(&mut game, "e4").unwrap();
        // Black's offer stands through black's own move, and white's reply declines it.
        assert_eq!(game.apply_move(1, "offer_draw", START), Ok(None));
        play(&mut game, "e5").unwrap();
        assert_eq!(game.draw_offer, Some(1));
        play(&mut game, "Nf3").unwrap();
        assert_eq!(game.draw_offer, None);
        assert_eq!(game.apply_move(0, "offer_draw", START), Ok(None));
        assert_eq!(game.apply_move(1, "accept_draw", START), draw());
        assert_eq!(game.termination, Some(ChessTermination::Agreement));
        assert_eq!(game.to_move(), None);
    }

    #[test]
    fn a_replay_rebuilds_the_game_and_refuses_what_it_cannot_reach() {
        let seed = [7u8; SERVER_SEED_BYTES];
        let mut draws = Draws::new(&seed, "a|b", 0);
        let start = Start {
            players: 2,
            now: START,
            turn_clock_ms: 60_000,
            increment_ms: 2_000,
            stake: 1,
            tick_hz: 0,
            house_edge_bp: 0,
            round_profit_max: 0,
            questions: 0,
        };
        let mut game = Chess::start(&start, &mut draws);
        let white = game.white_seat as usize;
        game.apply_move(white, "e4", START).unwrap();
        game.apply_move(1 - white, "offer_draw", START).unwrap();
        let replayed = Chess::replay(
            game.white_seat,
            &game.moves,
            game.clock_us,
            game.increment_us,
            game.turn_started,
            game.draw_offer,
            game.offered_at,
            game.termination,
        );
        assert_eq!(replayed.as_ref(), Some(&game));
        let mut mated = self::game();
        play(&mut mated, "f3 e5 g4 Qh4#").unwrap();
        let again = |termination| {
            Chess::replay(0, &mated.moves, [0, 0], 0, START, None, [0, 0], termination)
        };
        assert!(again(Some(ChessTermination::Checkmate)).is_some());
        assert!(again(None).is_none(), "a mate the snapshot does not name");
        assert!(again(Some(ChessTermination::Agreement)).is_none());
        let illegal: Move = "e2e5".parse().unwrap();
        assert!(Chess::replay(0, &[illegal], [0, 0], 0, START, None, [0, 0], None).is_none());
    }
}
