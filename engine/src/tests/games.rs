//! Games in the engine: money exact to the unit through wins, draws, forfeits, refunds and
//! spectator fees; timers; bounded windows; and snapshot + replay mid-game. Every command
//! runs through the harness, which checks every invariant (escrows included) after it and
//! that a refusal changed nothing.

use super::*;
use crate::games::connect_four::DRAW_SEQUENCE;
use betbet_protocol::games::*;
use betbet_protocol::query::{Query, QueryReply};

fn settings(turn_clock_ms: u32, rake_bp: u16) -> GameSettings {
    GameSettings {
        name: "Connect Four".to_owned(),
        category: "board".to_owned(),
        subcategory: String::new(),
        description: String::new(),
        rule_set: RuleSet::ConnectFour,
        min_players: 2,
        max_players: 2,
        rules: "{}".to_owned(),
        thumbnail_url: String::new(),
        turn_clock_ms,
        increment_ms: 0,
        tick_hz: 0,
        house_edge_bp: 0,
        round_profit_max: Amount(0),
        questions: 0,
        start_timeout_secs: 60,
        rake_bp,
        spectator_share_bp: 5_000,
        stake_min: Amount(1),
        stake_max: Amount(units(1_000)),
    }
}

impl World {
    pub(super) fn game(&mut self, turn_clock_ms: u32, rake_bp: u16) -> GameId {
        self.add_game(settings(turn_clock_ms, rake_bp))
    }

    fn add_game(&mut self, settings: GameSettings) -> GameId {
        match self.ok(Command::CreateGame(CreateGame {
            actor: self.admin,
            settings,
        })) {
            Reply::Created(c) => GameId(c.id),
            other => panic!("{other:?}"),
        }
    }

    fn open_session(&mut self, creator: UserId, game: GameId, stake: i64) -> GameSessionId {
        match self.ok(Command::CreateGameSession(CreateGameSession {
            actor: creator,
            game,
            stake: Amount(stake),
            currency: usd(),
            is_private: false,
            max_players: 0,
            spectator_fee: Amount(units(1) + 2),
            server_seed: [7; 32],
            client_seed: "creator".to_owned(),
        })) {
            Reply::Created(c) => GameSessionId(c.id),
            other => panic!("{other:?}"),
        }
    }

    pub(super) fn join(&mut self, user: UserId, session: GameSessionId) {
        self.ok(Command::JoinGameSession(JoinGameSession {
            actor: user,
            session,
            code: String::new(),
            client_seed: "joiner".to_owned(),
        }));
    }

    /// `restored` (an engine restored from a snapshot taken at journal length `cut`)
    /// replays the journal after it to exactly the live state.
    pub(super) fn replays_to_now(&self, mut restored: Engine, cut: usize) {
        super::replay::replay(&mut restored, &self.journal[cut..], cut as u64 + 1);
        assert_eq!(restored.state_hash(), self.engine.state_hash());
    }

    pub(super) fn session(&self, id: GameSessionId) -> &crate::games::GameSession {
        self.engine.games.session(id).expect("session")
    }

    /// The two players, first mover first.
    pub(super) fn movers(&self, id: GameSessionId) -> [UserId; 2] {
        let session = self.session(id);
        let crate::games::RuleState::ConnectFour(game) = &session.state else {
            panic!("not started");
        };
        let first = usize::from(game.first_seat);
        [session.players[first].user, session.players[1 - first].user]
    }

    pub(super) fn play(&mut self, id: GameSessionId, columns: &str) {
        let movers = self.movers(id);
        for (i, column) in columns.chars().enumerate() {
            self.move_as(movers[i % 2], id, &column.to_string());
        }
    }
}

#[test]
fn a_win_a_draw_and_a_resignation_pay_exactly() {
    let mut world = World::new();
    let game = world.game(30_000, 500);
    let alice = world.funded("alice", 100);
    let bob = world.funded("bob", 100);
    let fees = world.fees_balance();

    // A stake whose pot less 5% is an odd number of units: a draw's split has a remainder.
    let stake = units(10) + 10;
    let session = world.open_session(alice, game, stake);
    assert_eq!(world.balance(alice).0, units(100) - stake);
    world.join(bob, session);
    assert_eq!(world.session(session).status, GameSessionStatus::Active);
    let [first, second] = world.movers(session);
    // Out of turn and illegal moves are refused (the harness checks they change nothing).
    for (actor, mv, code) in [
        (second, "0", ResultCode::NotYourTurn),
        (first, "7", ResultCode::IllegalMove),
        (first, "", ResultCode::IllegalMove),
        (first, "00", ResultCode::IllegalMove),
        (first, "a-very-long-move-text", ResultCode::IllegalMove),
    ] {
        assert_eq!(
            world.err(Command::GameMove(GameMove {
                actor,
                session,
                mv: mv.to_owned()
            })),
            code
        );
    }
    world.play(session, "0101010");
    let pot = 2 * stake;
    let rake = pot * 500 / 10_000;
    assert_eq!(world.session(session).status, GameSessionStatus::Completed);
    assert_eq!(world.balance(first).0, units(100) - stake + pot - rake);
    assert_eq!(world.balance(second).0, units(100) - stake);
    assert_eq!(world.fees_balance() - fees, rake);

    // A draw: each gets half of the pot less the rake; the odd unit goes to the platform.
    let (a0, b0, f0) = (
        world.balance(alice).0,
        world.balance(bob).0,
        world.fees_balance(),
    );
    let session = world.open_session(alice, game, stake);
    world.join(bob, session);
    world.play(session, DRAW_SEQUENCE);
    let s = world.session(session);
    assert_eq!(s.end, Some(GameEnd::Draw));
    let share = (pot - rake) / 2;
    assert_eq!((pot - rake) % 2, 1, "the split has a remainder");
    assert_eq!(world.balance(alice).0, a0 - stake + share);
    assert_eq!(world.balance(bob).0, b0 - stake + share);
    assert_eq!(world.fees_balance() - f0, pot - 2 * share);

    // A resignation hands the opponent the pot.
    let (a0, b0) = (world.balance(alice).0, world.balance(bob).0);
    let session = world.open_session(bob, game, stake);
    world.join(alice, session);
    world.ok(Command::ResignGame(GameSessionAction {
        actor: alice,
        session,
    }));
    assert_eq!(world.session(session).end, Some(GameEnd::Resignation));
    assert_eq!(world.balance(alice).0, a0 - stake);
    assert_eq!(world.balance(bob).0, b0 - stake + pot - rake);
}

#[test]
fn timers_expire_waiting_sessions_and_flag_the_player_to_move() {
    let mut world = World::new();
    let game = world.game(2_000, 0);
    let alice = world.funded("alice", 10);
    let bob = world.funded("bob", 10);

    let waiting = world.open_session(alice, game, units(3));
    world.advance(59);
    assert_eq!(world.session(waiting).status, GameSessionStatus::Waiting);
    world.advance(1);
    assert_eq!(world.session(waiting).end, Some(GameEnd::Expired));
    assert_eq!(world.balance(alice).0, units(10));
    assert!(world.engine.next_deadline().is_none());

    let session = world.open_session(alice, game, units(3));
    world.join(bob, session);
    let [first, second] = world.movers(session);
    world.play(session, "3");
    // The second mover's clock: 2 s from the first move.
    world.advance(1);
    assert_eq!(world.session(session).status, GameSessionStatus::Active);
    world.advance(1);
    assert_eq!(world.session(session).end, Some(GameEnd::Timeout));
    assert_eq!(world.balance(first).0, units(13));
    assert_eq!(world.balance(second).0, units(7));
    assert!(world.engine.next_deadline().is_none());
}

#[test]
fn spectator_fees_split_exactly_and_are_charged_once() {
    let mut world = World::new();
    let game = world.game(30_000, 0);
    let alice = world.funded("alice", 10);
    let bob = world.funded("bob", 10);
    let eve = world.funded("eve", 10);
    let fees = world.fees_balance();
    let session = world.open_session(alice, game, units(1));
    world.join(bob, session);
    for _ in 0..2 {
        world.ok(Command::SpectateGameSession(GameSessionAction {
            actor: eve,
            session,
        }));
    }
    // The fee is 1.00000002: half of it, 0.50000001, to the players in equal parts (the
    // odd unit does not divide), the rest to the platform.
    let fee = units(1) + 2;
    let each = fee / 2 / 2;
    assert_eq!(world.balance(eve).0, units(10) - fee);
    assert_eq!(world.balance(alice).0, units(9) + each);
    assert_eq!(world.balance(bob).0, units(9) + each);
    assert_eq!(world.fees_balance() - fees, fee - 2 * each);
    assert_eq!(
        world.err(Command::SpectateGameSession(GameSessionAction {
            actor: alice,
            session
        })),
        ResultCode::PlayerCannotSpectate
    );
    assert_eq!(
        world.err(Command::GameMove(GameMove {
            actor: eve,
            session,
            mv: "0".to_owned()
        })),
        ResultCode::NotInSession
    );
}

#[test]
fn ended_sessions_beyond_the_window_are_forgotten() {
    let mut world = World::with_limits(Limits {
        game_sessions_kept: 2,
        game_sessions_max: 3,
        ..Limits::default()
    });
    let game = world.game(30_000, 0);
    let alice = world.funded("alice", 100);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(world.open_session(alice, game, units(1)));
    }
    // Three live sessions: the limit.
    assert_eq!(
        world.err(Command::CreateGameSession(CreateGameSession {
            actor: alice,
            game,
            stake: Amount(units(1)),
            currency: usd(),
            is_private: false,
            max_players: 0,
            spectator_fee: Amount(0),
            server_seed: [1; 32],
            client_seed: "creator".to_owned(),
        })),
        ResultCode::TooManyGameSessions
    );
    for &id in &ids {
        world.ok(Command::CancelGameSession(GameSessionAction {
            actor: alice,
            session: id,
        }));
    }
    assert!(world.engine.games.session(ids[0]).is_none());
    assert!(world.engine.games.session(ids[2]).is_some());
    assert_eq!(world.balance(alice).0, units(100));
}

#[test]
fn a_snapshot_mid_game_plus_replay_reproduces_the_live_run() {
    let mut world = World::new();
    let game = world.game(5_000, 300);
    let alice = world.funded("alice", 50);
    let bob = world.funded("bob", 50);
    let session = world.open_session(alice, game, units(5));
    world.join(bob, session);
    world.play(session, "33421");
    let cut = world.journal.len();
    let snapshot = world.engine.snapshot();
    world.advance(3);
    let [_, second] = world.movers(session);
    world.ok(Command::GameMove(GameMove {
        actor: second,
        session,
        mv: "0".to_owned(),
    }));
    world.advance(6);
    assert_eq!(world.session(session).end, Some(GameEnd::Timeout));

    let restored = Engine::restore(&snapshot).expect("restores");
    world.replays_to_now(restored, cut);
}

#[test]
fn nothing_the_timer_decides_is_taken_after_it_passed() {
    let mut world = World::new();
    let game = world.game(2_000, 0);
    let alice = world.funded("alice", 10);
    let bob = world.funded("bob", 10);
    let carol = world.funded("carol", 10);
    let session = world.open_session(alice, game, units(1));
    world.join(bob, session);
    let [first, second] = world.movers(session);
    // The flag falls at 2 s; a move or a resignation arriving at 2 s, before the tick that
    // settles it, is refused (the harness checks nothing changed).
    world.now = world.now.saturating_add_micros(2_000_000);
    for command in [
        Command::GameMove(GameMove {
            actor: first,
            session,
            mv: "3".to_owned(),
        }),
        Command::ResignGame(GameSessionAction {
            actor: second,
            session,
        }),
    ] {
        assert_eq!(world.err(command), ResultCode::GameSessionNotActive);
    }
    world.ok(Command::Tick(Tick {}));
    assert_eq!(world.session(session).end, Some(GameEnd::Timeout));
    assert_eq!(world.balance(second).0, units(11));

    // A join after the start deadline, before its tick, is refused too.
    let waiting = world.open_session(alice, game, units(1));
    world.now = world.now.saturating_add_micros(60_000_000);
    assert_eq!(
        world.err(Command::JoinGameSession(JoinGameSession {
            actor: carol,
            session: waiting,
            code: String::new(),
            client_seed: "late".to_owned(),
        })),
        ResultCode::GameSessionNotWaiting
    );
}

#[test]
fn a_private_session_does_not_exist_for_outsiders() {
    let mut world = World::new();
    let game = world.game(30_000, 0);
    let alice = world.funded("alice", 10);
    let bob = world.funded("bob", 10);
    let eve = world.funded("eve", 10);
    let session = match world.ok(Command::CreateGameSession(CreateGameSession {
        actor: alice,
        game,
        stake: Amount(units(1)),
        currency: usd(),
        is_private: true,
        max_players: 0,
        spectator_fee: Amount(0),
        server_seed: [9; 32],
        client_seed: "alice".to_owned(),
    })) {
        Reply::Created(c) => GameSessionId(c.id),
        other => panic!("{other:?}"),
    };
    let code = world.session(session).code.clone();
    let action = GameSessionAction {
        actor: eve,
        session,
    };
    for command in [
        Command::JoinGameSession(JoinGameSession {
            actor: eve,
            session,
            code: "WRONGCDE".to_owned(),
            client_seed: "eve".to_owned(),
        }),
        Command::SpectateGameSession(action),
        Command::StartGameSession(action),
        Command::CancelGameSession(action),
        Command::LeaveGameSession(action),
        Command::ResignGame(action),
        Command::GameMove(GameMove {
            actor: eve,
            session,
            mv: "0".to_owned(),
        }),
        Command::SetClientSeed(SetClientSeed {
            actor: eve,
            session,
            client_seed: "eve".to_owned(),
        }),
    ] {
        assert_eq!(world.err(command), ResultCode::GameSessionNotFound);
    }
    // With the code, bob takes the seat.
    world.ok(Command::JoinGameSession(JoinGameSession {
        actor: bob,
        session,
        code,
        client_seed: "bob".to_owned(),
    }));
    assert_eq!(world.session(session).status, GameSessionStatus::Active);
}

#[test]
fn a_user_holds_a_bounded_number_of_seats() {
    let mut world = World::with_limits(Limits {
        game_seats_per_user_max: 2,
        ..Limits::default()
    });
    let game = world.game(30_000, 0);
    let alice = world.funded("alice", 10);
    let first = world.open_session(alice, game, units(1));
    world.open_session(alice, game, units(1));
    let third = CreateGameSession {
        actor: alice,
        game,
        stake: Amount(units(1)),
        currency: usd(),
        is_private: false,
        max_players: 0,
        spectator_fee: Amount(0),
        server_seed: [3; 32],
        client_seed: "alice".to_owned(),
    };
    assert_eq!(
        world.err(Command::CreateGameSession(third.clone())),
        ResultCode::LimitExceeded
    );
    // An ended session frees its seat.
    world.ok(Command::CancelGameSession(GameSessionAction {
        actor: alice,
        session: first,
    }));
    world.ok(Command::CreateGameSession(third));
}

#[test]
fn chat_takes_the_sessions_next_version_and_only_players_post() {
    let mut world = World::new();
    let game = world.game(30_000, 500);
    let alice = world.funded("alice", 100);
    let bob = world.funded("bob", 100);
    let carol = world.funded("carol", 100);
    let session = world.open_session(alice, game, units(1));
    let chat = |actor: UserId, text: &str| {
        Command::PostGameChat(PostGameChat {
            actor,
            session,
            text: text.to_owned(),
        })
    };
    let before = world.session(session).version;
    world.ok(chat(alice, "good luck"));
    assert_eq!(world.session(session).version, before + 1);
    // The session's change after a message continues the same sequence.
    world.join(bob, session);
    assert_eq!(
        world.session(session).version,
        before + 3,
        "joined, started"
    );
    for (actor, text, code) in [
        (carol, "hi", ResultCode::NotInSession),
        (bob, "", ResultCode::InvalidChatMessage),
        (bob, "   ", ResultCode::InvalidChatMessage),
        (bob, "bell\u{7}", ResultCode::InvalidChatMessage),
        (
            bob,
            &"x".repeat(GAME_CHAT_MAX + 1),
            ResultCode::InvalidChatMessage,
        ),
    ] {
        assert_eq!(world.err(chat(actor, text)), code, "{text:?}");
    }
    world.ok(chat(bob, &"é".repeat(GAME_CHAT_MAX / 2)));
    world.ok(chat(bob, "two\nlines"));
    world.ok(Command::ResignGame(GameSessionAction {
        actor: alice,
        session,
    }));
    assert_eq!(world.err(chat(bob, "gg")), ResultCode::GameSessionNotActive);
}

#[test]
fn an_abandoned_seat_is_given_up_before_the_start_and_forfeits_after_it() {
    let mut world = World::new();
    let game = world.game(30_000, 500);
    let alice = world.funded("alice", 100);
    let bob = world.funded("bob", 100);
    let abandon = |actor: UserId, session: GameSessionId| {
        Command::AbandonGameSession(GameSessionAction { actor, session })
    };
    let stake = units(5);

    // A creator's abandoned lobby is cancelled and refunded.
    let lobby = world.open_session(alice, game, stake);
    assert_eq!(world.err(abandon(bob, lobby)), ResultCode::NotInSession);
    world.ok(abandon(alice, lobby));
    assert_eq!(world.session(lobby).status, GameSessionStatus::Cancelled);
    assert_eq!(world.session(lobby).end, Some(GameEnd::Abandoned));
    assert_eq!(world.balance(alice).0, units(100));

    // While playing, the player who abandoned loses; the other takes the pot less rake.
    let session = world.open_session(alice, game, stake);
    world.join(bob, session);
    world.ok(abandon(bob, session));
    let s = world.session(session);
    assert_eq!(s.status, GameSessionStatus::Completed);
    assert_eq!(s.end, Some(GameEnd::Abandoned));
    let rake = 2 * stake * 500 / 10_000;
    assert_eq!(world.balance(alice).0, units(100) + stake - rake);
    assert_eq!(world.balance(bob).0, units(100) - stake);
    // Once over, nobody abandons it again.
    assert_eq!(
        world.err(abandon(alice, session)),
        ResultCode::GameSessionNotActive
    );
}

fn chess_settings(base_ms: u32, increment_ms: u32) -> GameSettings {
    GameSettings {
        name: "Chess".to_owned(),
        rule_set: RuleSet::Chess,
        turn_clock_ms: base_ms,
        increment_ms,
        ..settings(base_ms, 500)
    }
}

impl World {
    fn chess_game(&mut self, base_ms: u32, increment_ms: u32) -> GameId {
        self.add_game(chess_settings(base_ms, increment_ms))
    }

    /// White and black.
    fn sides(&self, id: GameSessionId) -> [UserId; 2] {
        let session = self.session(id);
        let crate::games::RuleState::Chess(game) = &session.state else {
            panic!("not a chess game in play");
        };
        let white = usize::from(game.white_seat);
        [session.players[white].user, session.players[1 - white].user]
    }

    pub(super) fn move_as(&mut self, actor: UserId, session: GameSessionId, mv: &str) {
        self.ok(Command::GameMove(GameMove {
            actor,
            session,
            mv: mv.to_owned(),
        }));
    }
}

#[test]
fn chess_pays_a_mate_and_flags_the_player_whose_time_ran_out() {
    let mut world = World::new();
    let game = world.chess_game(10_000, 2_000);
    let alice = world.funded("alice", 50);
    let bob = world.funded("bob", 50);

    // Fool's mate: black mates on its second move.
    let session = world.open_session(alice, game, units(5));
    world.join(bob, session);
    let [white, black] = world.sides(session);
    for (actor, mv) in [(white, "f3"), (black, "e7e5"), (white, "g4")] {
        world.move_as(actor, session, mv);
    }
    // Not black's to make for white, and not legal for black.
    assert_eq!(
        world.err(Command::GameMove(GameMove {
            actor: white,
            session,
            mv: "a3".to_owned()
        })),
        ResultCode::NotYourTurn
    );
    assert_eq!(
        world.err(Command::GameMove(GameMove {
            actor: black,
            session,
            mv: "Qh5#".to_owned()
        })),
        ResultCode::IllegalMove
    );
    world.move_as(black, session, "Qh4#");
    let ended = world.session(session);
    assert_eq!(ended.end, Some(GameEnd::Win));
    let pot = units(10);
    let rake = pot * 500 / 10_000;
    assert_eq!(world.balance(black).0, units(50) - units(5) + pot - rake);
    assert_eq!(world.balance(white).0, units(45));

    // Clocks: 10 s each and 2 s a move. White spends 3 s (10 − 3 + 2 = 9 s left), black
    // 1 s; then white's 9 s run out.
    let session = world.open_session(alice, game, units(5));
    world.join(bob, session);
    let [white, black] = world.sides(session);
    world.advance(3);
    world.move_as(white, session, "e2e4");
    world.advance(1);
    world.move_as(black, session, "c5");
    let flag = world.engine.next_deadline().expect("white's flag");
    assert_eq!(flag, world.now.saturating_add_micros(9_000_000));
    world.advance(8);
    assert_eq!(world.session(session).status, GameSessionStatus::Active);
    world.advance(1);
    let ended = world.session(session);
    assert_eq!(ended.end, Some(GameEnd::Timeout));
    let crate::games::RuleState::Chess(chess) = &ended.state else {
        panic!("chess");
    };
    assert_eq!(chess.clock_us, [0, 11_000_000]);
    assert_eq!(chess.termination, Some(ChessTermination::Timeout));
    let black_seat = ended.seat_of(black).expect("black's seat");
    assert_eq!(ended.players[black_seat].status, PlayerStatus::Won);
    assert!(world.engine.next_deadline().is_none());
}

#[test]
fn a_chess_snapshot_mid_game_plus_replay_reproduces_the_live_run() {
    let mut world = World::new();
    // A game made by the settings' first layout, as an old journal holds it: no increment.
    let old = match world.ok(Command::CreateGameV1(CreateGameV1 {
        actor: world.admin,
        settings: GameSettingsV1 {
            name: "Old connect four".to_owned(),
            category: "board".to_owned(),
            subcategory: String::new(),
            description: String::new(),
            rule_set: RuleSet::ConnectFour,
            min_players: 2,
            max_players: 2,
            rules: "{}".to_owned(),
            thumbnail_url: String::new(),
            turn_clock_ms: 5_000,
            start_timeout_secs: 60,
            rake_bp: 100,
            spectator_share_bp: 0,
            stake_min: Amount(1),
            stake_max: Amount(units(10)),
        },
    })) {
        Reply::Created(c) => GameId(c.id),
        other => panic!("{other:?}"),
    };
    let old = world.engine.games.game(old).expect("the old layout's game");
    assert_eq!(old.settings.increment_ms, 0);
    assert_eq!(old.settings.turn_clock_ms, 5_000);

    let game = world.chess_game(60_000, 1_000);
    let alice = world.funded("alice", 50);
    let bob = world.funded("bob", 50);
    let session = world.open_session(alice, game, units(5));
    world.join(bob, session);
    let [white, black] = world.sides(session);
    for (actor, mv) in [(white, "e4"), (black, "e5"), (white, "offer_draw")] {
        world.advance(1);
        world.move_as(actor, session, mv);
    }
    let cut = world.journal.len();
    let snapshot = world.engine.snapshot();
    // Black's reply declines white's offer; then black offers and white accepts.
    for (actor, mv) in [
        (white, "Nf3"),
        (black, "Nc6"),
        (white, "Bc4"),
        (black, "offer_draw"),
    ] {
        world.advance(2);
        world.move_as(actor, session, mv);
    }
    world.move_as(white, session, "accept_draw");
    assert_eq!(world.session(session).end, Some(GameEnd::Draw));

    let restored_at_cut = Engine::restore(&snapshot).expect("restores mid-game");
    let crate::games::RuleState::Chess(chess) =
        &restored_at_cut.games.session(session).unwrap().state
    else {
        panic!("chess");
    };
    // White's offer is in the snapshot, standing.
    let white_seat = world.session(session).seat_of(white);
    assert_eq!(chess.draw_offer.map(usize::from), white_seat);
    assert_eq!(chess.moves.len(), 2);
    world.replays_to_now(restored_at_cut, cut);
    // And the ended game restores too.
    let again = Engine::restore(&world.engine.snapshot()).expect("restores the ended game");
    assert_eq!(again.state_hash(), world.engine.state_hash());
}

fn crash_settings(profit_max: i64) -> GameSettings {
    GameSettings {
        name: "Crash".to_owned(),
        rule_set: RuleSet::Crash,
        min_players: 1,
        max_players: 10,
        tick_hz: 10,
        house_edge_bp: 100,
        round_profit_max: Amount(units(profit_max)),
        start_timeout_secs: 10,
        ..settings(1_000, 0)
    }
}

impl World {
    /// The admin deposits `whole_units` and moves them into the house's bankroll.
    fn fund_bankroll(&mut self, whole_units: i64) {
        let admin = self.admin;
        self.deposit(admin, units(whole_units));
        self.ok(Command::FundBankroll(FundBankroll {
            actor: admin,
            currency: usd(),
            amount: Amount(units(whole_units)),
        }));
    }

    fn advance_ms(&mut self, ms: i64) {
        self.now = self.now.saturating_add_micros(ms * 1_000);
        self.ok(Command::Tick(Tick {}));
    }

    fn bankroll(&self) -> BankrollView {
        self.engine
            .bankroll_view(&BankrollQuery { currency: usd() })
    }

    fn view_as(&self, session: GameSessionId, viewer: UserId) -> GameSessionView {
        match self
            .engine
            .query(&Query::GameSession(GameSessionQuery { session, viewer }))
        {
            QueryReply::GameSession(view) => view,
            other => panic!("{other:?}"),
        }
    }

    fn crash_round(&self, id: GameSessionId) -> &crate::games::crash::Crash {
        match &self.session(id).state {
            crate::games::RuleState::Crash(round) => round,
            other => panic!("not a crash round: {other:?}"),
        }
    }
}

#[test]
fn crash_rounds_reserve_from_the_bankroll_and_pay_exactly() {
    let mut world = World::new();
    let game = world.add_game(crash_settings(50));
    let admin = world.admin;
    world.deposit(admin, units(1_000));
    let alice = world.funded("alice", 100);
    let bob = world.funded("bob", 100);
    let open = |stake| {
        Command::CreateGameSession(CreateGameSession {
            actor: alice,
            game,
            stake: Amount(stake),
            currency: usd(),
            is_private: false,
            max_players: 0,
            spectator_fee: Amount(0),
            server_seed: [9; 32],
            client_seed: "alice".to_owned(),
        })
    };
    // No bankroll to reserve the round's 50 from.
    assert_eq!(world.err(open(units(10))), ResultCode::BankrollInsufficient);
    let fund = |amount| {
        Command::FundBankroll(FundBankroll {
            actor: admin,
            currency: usd(),
            amount: Amount(amount),
        })
    };
    assert_eq!(
        world.err(Command::FundBankroll(FundBankroll {
            actor: alice,
            currency: usd(),
            amount: Amount(units(1)),
        })),
        ResultCode::Forbidden
    );
    assert_eq!(world.err(fund(0)), ResultCode::InvalidAmount);
    assert_eq!(world.err(fund(units(5_000))), ResultCode::InsufficientFunds);
    world.ok(fund(units(80)));
    assert_eq!(world.bankroll().available.0, units(80));

    let Reply::Created(created) = world.ok(open(units(10))) else {
        panic!("created")
    };
    let session = GameSessionId(created.id);
    assert_eq!(
        (world.bankroll().available.0, world.bankroll().reserved.0),
        (units(30), units(50))
    );
    // A second round would need 50 more than the bankroll has free.
    assert_eq!(world.err(open(units(10))), ResultCode::BankrollInsufficient);
    world.join(bob, session);
    assert_eq!(world.session(session).status, GameSessionStatus::Waiting);
    // The betting window closes at the start deadline: the round starts with who is in.
    world.advance(10);
    assert_eq!(world.session(session).status, GameSessionStatus::Active);
    let draw = world.session(session).draws[0];
    assert_eq!(draw.purpose, DrawPurpose::CrashPoint);
    let point = world.crash_round(session).crash_point;
    assert_eq!(u64::from(point), draw.outcome);
    assert_eq!(point, crate::games::crash::crash_point(draw.fraction, 100));
    // Hidden while the round runs.
    let view = world.view_as(session, bob);
    assert!(view.draws.is_empty());
    let GameStateView::Crash(state) = &view.state else {
        panic!("crash")
    };
    assert_eq!(state.crash_point, None);

    // Alice cashes out at the first tick at or past 1.05× (if the round gets there);
    // Bob rides to the end.
    let mut alice_at = None;
    while world.session(session).status == GameSessionStatus::Active {
        let round = world.crash_round(session);
        let shown = (round.multiplier / 1_000_000) as u32;
        if alice_at.is_none() && shown >= 105 {
            world.move_as(alice, session, "cashout");
            alice_at = Some(world.crash_round(session).cash_outs[0].multiplier);
            continue;
        }
        world.advance_ms(100);
    }
    let ended = world.session(session);
    let bob_out = ended.players[1].payout;
    let alice_paid = alice_at.map_or(0, |m| units(10) * i64::from(m) / 100);
    assert_eq!(ended.players[0].payout, alice_paid);
    assert_eq!(world.balance(alice).0, units(90) + alice_paid);
    assert_eq!(world.balance(bob).0, units(90) + bob_out);
    // Bob is paid only if the cap cashed him out (it did not here unless the round rose
    // past it): either way the house got back its reserve and the stakes less the payouts.
    let house = units(50) + units(20) - alice_paid - bob_out;
    assert_eq!(ended.house, house);
    assert_eq!(world.bankroll().available.0, units(30) + house);
    assert_eq!(world.bankroll().reserved.0, 0);
    assert_eq!(
        ended.end,
        Some(if world.crash_round(session).crashed {
            GameEnd::Crashed
        } else {
            GameEnd::AllCashedOut
        })
    );
    let view = world.view_as(session, bob);
    assert_eq!(view.draws.len(), 1, "revealed at the end");

    // A round cancelled before its start gives its reserve back.
    world.ok(fund(units(50)));
    let Reply::Created(created) = world.ok(open(units(10))) else {
        panic!("created")
    };
    let before = world.bankroll().available.0;
    world.ok(Command::CancelGameSession(GameSessionAction {
        actor: alice,
        session: GameSessionId(created.id),
    }));
    assert_eq!(world.bankroll().available.0, before + units(50));
}

#[test]
fn a_crash_snapshot_mid_round_plus_replay_reproduces_the_live_run() {
    let mut world = World::new();
    let game = world.add_game(crash_settings(500));
    world.fund_bankroll(1_000);
    let alice = world.funded("alice", 100);
    let bob = world.funded("bob", 100);
    let session = world.open_session(alice, game, units(10));
    world.join(bob, session);
    world.ok(Command::StartGameSession(GameSessionAction {
        actor: alice,
        session,
    }));
    world.advance_ms(300);
    let cut = world.journal.len();
    let snapshot = world.engine.snapshot();
    while world.session(session).status == GameSessionStatus::Active {
        if world.crash_round(session).cash_outs.is_empty() && world.crash_round(session).tick >= 4 {
            world.move_as(bob, session, "cashout");
        }
        world.advance_ms(100);
    }
    let restored = Engine::restore(&snapshot).expect("restores mid-round");
    world.replays_to_now(restored, cut);
    let again = Engine::restore(&world.engine.snapshot()).expect("restores the ended round");
    assert_eq!(again.state_hash(), world.engine.state_hash());
}

fn quiz_settings(questions: u32) -> GameSettings {
    GameSettings {
        name: "Quick math".to_owned(),
        rule_set: RuleSet::QuickMath,
        min_players: 2,
        max_players: 10,
        questions,
        ..settings(20_000, 500)
    }
}

impl World {
    fn quiz(&self, id: GameSessionId) -> &crate::games::quick_math::QuickMath {
        match &self.session(id).state {
            crate::games::RuleState::QuickMath(round) => round,
            other => panic!("not a quick-math round: {other:?}"),
        }
    }

    /// `seat`'s answer to question `i`: right, or off by one.
    fn answer(&mut self, id: GameSessionId, seat: usize, i: usize, right: bool) {
        let user = self.session(id).players[seat].user;
        let answer = self.quiz(id).questions[i].answer() + i64::from(!right);
        self.move_as(user, id, &format!("{i}:{answer}"));
    }
}

#[test]
fn quick_math_ties_split_the_pot_and_the_countdown_ends_the_round() {
    let mut world = World::new();
    let game = world.add_game(quiz_settings(5));
    let players: Vec<UserId> = ["ann", "ben", "cat"]
        .iter()
        .map(|name| world.funded(name, 100))
        .collect();
    let fees = world.fees_balance();
    let session = world.open_session(players[0], game, units(10) + 1);
    world.join(players[1], session);
    world.join(players[2], session);
    // Three of ten seats: the round starts at the start deadline.
    world.advance(60);
    assert_eq!(world.session(session).status, GameSessionStatus::Active);
    // Ann and Ben answer everything right at the same moment (a tie); Cat gets one wrong.
    for i in 0..5 {
        world.answer(session, 0, i, true);
        world.answer(session, 1, i, true);
        world.answer(session, 2, i, i != 2);
    }
    let ended = world.session(session);
    assert_eq!(ended.end, Some(GameEnd::Win));
    // The room never saw an answer: the events carry no move text for quick math.
    let moves: Vec<&str> = world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::GameSessionChanged(c) if c.session == session => Some(c.mv.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        moves.len() >= 15 && moves.iter().all(|mv| mv.is_empty()),
        "{moves:?}"
    );
    // A pot of 30.00000003: a 5% rake of 1.50000000 (rounded down), 28.50000003 to split,
    // 14.25000001 each, and the odd unit to the platform.
    let pot = 3 * (units(10) + 1);
    let (share, platform) = (1_425_000_001, 150_000_001);
    assert_eq!(share * 2 + platform, pot);
    for (seat, won) in [(0, true), (1, true), (2, false)] {
        let expected = units(100) - (units(10) + 1) + if won { share } else { 0 };
        assert_eq!(world.balance(players[seat]).0, expected, "seat {seat}");
        assert_eq!(
            world.session(session).players[seat].status,
            if won {
                PlayerStatus::Won
            } else {
                PlayerStatus::Lost
            }
        );
    }
    assert_eq!(world.fees_balance() - fees, platform);
    assert_eq!(world.session(session).players[0].score, 5_000);

    // A round nobody answers: the countdown's tick ends it in a draw among all.
    let session = world.open_session(players[0], game, units(1));
    world.join(players[1], session);
    world.ok(Command::StartGameSession(GameSessionAction {
        actor: players[0],
        session,
    }));
    world.answer(session, 1, 0, true);
    let cut = world.journal.len();
    let snapshot = world.engine.snapshot();
    world.advance(19);
    assert_eq!(world.session(session).status, GameSessionStatus::Active);
    world.advance(1);
    let ended = world.session(session);
    assert_eq!(ended.end, Some(GameEnd::Win), "Ben answered one");
    assert_eq!(ended.players[1].status, PlayerStatus::Won);
    let restored = Engine::restore(&snapshot).expect("restores mid-round");
    world.replays_to_now(restored, cut);
}

#[test]
fn a_cash_out_ahead_of_its_tick_snapshots_and_restores() {
    let mut world = World::new();
    let game = world.add_game(crash_settings(500));
    world.fund_bankroll(1_000);
    let alice = world.funded("alice", 100);
    let session = world.open_session(alice, game, units(10));
    world.ok(Command::StartGameSession(GameSessionAction {
        actor: alice,
        session,
    }));
    // The cash-out's time is three ticks on, but no Tick has run since the start: it is
    // priced at its own tick, and it ends the round (Alice is its only player).
    world.now = world.now.saturating_add_micros(300_000);
    let point = world.crash_round(session).crash_point;
    assert!(point > 102, "the fixed seeds' crash point is {point}");
    world.move_as(alice, session, "cashout");
    let round = world.crash_round(session);
    assert_eq!((round.tick, round.cash_outs[0].tick), (0, 3));
    assert_eq!(world.session(session).status, GameSessionStatus::Completed);
    let restored = Engine::restore(&world.engine.snapshot()).expect("restores");
    assert_eq!(restored.state_hash(), world.engine.state_hash());
}
