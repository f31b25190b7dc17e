//! Tournaments in the engine: whole tournaments of every format played through real game
//! sessions, with the money exact (every invariant, the tournaments escrow included, is
//! checked after each command by the harness); no-shows, draws replayed, refunds, and a
//! snapshot mid-tournament replayed to the same state.

use super::*;
use crate::games::connect_four::DRAW_SEQUENCE;
use crate::tournaments::bracket::MatchResult;
use betbet_protocol::games::*;
use betbet_protocol::tournaments::*;

/// The first mover wins with four in column 0; the second with four in column 1.
const FIRST_WINS: &str = "0101010";
const SECOND_WINS: &str = "01010121";

const FEE: i64 = 10;
const POOL: i64 = 100;

impl World {
    fn tournament_command(
        &self,
        game: GameId,
        format: TournamentFormat,
        (min_players, max_players): (u32, u32),
        rounds: u32,
    ) -> CreateTournament {
        CreateTournament {
            actor: self.admin,
            game,
            name: "Cup".to_owned(),
            format,
            third_place: false,
            rounds,
            entry_fee: Amount(units(FEE)),
            prize_pool: Amount(units(POOL)),
            currency: usd(),
            max_players,
            min_players,
            starts_at: self.now.saturating_add_micros(3_600 * 1_000_000),
            distribution_bp: vec![5_000, 3_000, 2_000],
            check_in_secs: 60,
            server_seed: [9; 32],
        }
    }

    fn create_tournament(&mut self, c: CreateTournament) -> TournamentId {
        match self.ok(Command::CreateTournament(c)) {
            Reply::Created(c) => TournamentId(c.id),
            other => panic!("{other:?}"),
        }
    }

    fn enter(&mut self, tournament: TournamentId, user: UserId) {
        self.ok(Command::RegisterTournament(TournamentAction {
            actor: user,
            tournament,
        }));
    }

    fn tournament(&self, id: TournamentId) -> &crate::tournaments::Tournament {
        &self.engine.games.tournaments.tournaments[&id]
    }

    /// Seed `n`'s user (1-based).
    fn seed(&self, id: TournamentId, n: u16) -> UserId {
        self.tournament(id).entrants[usize::from(n) - 1].user
    }

    fn start(&mut self, id: TournamentId) {
        let starts_at = self.tournament(id).starts_at;
        self.now = starts_at;
        self.ok(Command::Tick(Tick {}));
        assert_eq!(self.tournament(id).status, TournamentStatus::Running);
    }

    /// The live match sessions: (match, session, its two seeds).
    fn live_matches(&self, id: TournamentId) -> Vec<(u16, GameSessionId, [u16; 2])> {
        let t = self.tournament(id);
        let bracket = t.bracket.as_ref().expect("running");
        // Round robin plays a round at a time: later rounds' matches have no session yet.
        bracket
            .playable()
            .filter_map(|index| {
                let session = *t.plays.get(&index)?.last()?;
                let seeds = bracket.matches[usize::from(index)].players().unwrap();
                Some((index, session, seeds))
            })
            .collect()
    }

    /// Plays every match to the end: `decide` names the winning seed of a match (its
    /// index, round and seeds), or none for a draw.
    fn drive(
        &mut self,
        id: TournamentId,
        mut decide: impl FnMut(&crate::tournaments::bracket::Match, [u16; 2]) -> Option<u16>,
    ) -> usize {
        let mut games = 0;
        while self.tournament(id).status == TournamentStatus::Running {
            let live = self.live_matches(id);
            assert!(!live.is_empty(), "a running tournament has a match to play");
            for (index, session, seeds) in live {
                let users = seeds.map(|s| self.seed(id, s));
                self.join(users[0], session);
                self.join(users[1], session);
                let m = self.tournament(id).bracket.as_ref().unwrap().matches[usize::from(index)]
                    .clone();
                let [first, _] = self.movers(session);
                match decide(&m, seeds) {
                    Some(winner) => {
                        let winner = self.seed(id, winner);
                        let columns = if first == winner {
                            FIRST_WINS
                        } else {
                            SECOND_WINS
                        };
                        self.play(session, columns);
                    }
                    None => self.play(session, DRAW_SEQUENCE),
                }
                assert!(self.session(session).status.ended());
                games += 1;
                assert!(games < 10_000);
            }
        }
        games
    }

    fn usd_of(&self, user: UserId) -> i64 {
        self.balance(user).0
    }
}

fn connect_four(world: &mut World) -> GameId {
    // 5% rake, a 60 s clock.
    world.game(60_000, 500)
}

fn players(world: &mut World, n: usize) -> Vec<UserId> {
    (0..n)
        .map(|i| world.funded(&format!("player{i}"), 100))
        .collect()
}

/// The better seed wins.
fn favourite(_: &crate::tournaments::bracket::Match, [a, b]: [u16; 2]) -> Option<u16> {
    Some(a.min(b))
}

#[test]
fn a_single_elimination_of_eight_plays_to_the_end_and_pays_exactly() {
    let mut world = World::new();
    let game = connect_four(&mut world);
    let entrants = players(&mut world, 8);
    let mut c = world.tournament_command(game, TournamentFormat::SingleElimination, (3, 8), 0);
    c.third_place = true;
    world.deposit(world.admin, units(POOL));
    let admin_funded = world.usd_of(world.admin);
    let id = world.create_tournament(c);
    assert_eq!(world.usd_of(world.admin), admin_funded - units(POOL));
    for &user in &entrants {
        world.enter(id, user);
        assert_eq!(world.usd_of(user), units(100 - FEE));
    }
    let fees_before = world.fees_balance();
    world.start(id);
    // Rake: 5% of 80 = 4 units; prizes 100 + 80 − 4 = 176.
    assert_eq!(world.tournament(id).rake, units(4));
    assert_eq!(world.tournament(id).prizes_total, units(176));
    assert_eq!(world.fees_balance(), fees_before + units(4));
    // Unrated players are seeded by registration.
    for (n, &user) in entrants.iter().enumerate() {
        assert_eq!(world.seed(id, n as u16 + 1), user);
    }
    let games = world.drive(id, favourite);
    assert_eq!(games, 8, "7 and the third-place match");
    let t = world.tournament(id);
    assert_eq!(t.status, TournamentStatus::Completed);
    // 50 / 30 / 20 of 176: 88, 52.8, 35.2.
    let prizes = [units(88), units(528) / 10, units(352) / 10, 0, 0, 0, 0, 0];
    assert_eq!(t.prizes, prizes);
    for (n, &user) in entrants.iter().enumerate() {
        assert_eq!(
            world.usd_of(user),
            units(100 - FEE) + prizes[n],
            "seed {}",
            n + 1
        );
    }
    assert_eq!(
        world.tournament(id).bracket.as_ref().unwrap().standings()[..4]
            .iter()
            .map(|s| (s.seed, s.place))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 2), (3, 3), (4, 4)]
    );
    // The matches were rated: the champion leads the game's leaderboard.
    let champion = entrants[0];
    let best = world.engine.games.leaderboard.first().unwrap();
    assert_eq!((best.0, best.2), (game, champion));
}

#[test]
fn thirteen_and_sixteen_through_double_elimination_and_the_reset() {
    for n in [13usize, 16] {
        let mut world = World::new();
        let game = connect_four(&mut world);
        let entrants = players(&mut world, n);
        world.deposit(world.admin, units(POOL));
        let c = world.tournament_command(game, TournamentFormat::DoubleElimination, (3, 16), 0);
        let id = world.create_tournament(c);
        for &user in &entrants {
            world.enter(id, user);
        }
        world.start(id);
        // Seed 2 beats seed 1 in the winners' final; seed 1 comes back through the
        // losers' bracket and wins the grand final and its reset.
        let games = world.drive(id, |m, [a, b]| {
            use crate::tournaments::bracket::Stage;
            let winners_final = m.stage == Stage::Winners && m.round == 4;
            if winners_final && [a, b].contains(&2) && [a, b].contains(&1) {
                Some(2)
            } else if matches!(m.stage, Stage::GrandFinal | Stage::Reset) {
                Some(1)
            } else {
                Some(a.min(b))
            }
        });
        assert_eq!(
            games,
            2 * (n - 1) + 1,
            "{n}: everyone out twice, and the reset"
        );
        let t = world.tournament(id);
        assert_eq!(t.status, TournamentStatus::Completed);
        let bracket = t.bracket.as_ref().unwrap();
        let reset = bracket.matches.last().unwrap();
        assert_eq!(
            reset.result,
            Some(MatchResult::Won(1)),
            "the reset was played"
        );
        let places: Vec<(u16, u16)> = bracket.standings()[..3]
            .iter()
            .map(|s| (s.seed, s.place))
            .collect();
        assert_eq!(places, [(1, 1), (2, 2), (3, 3)]);
        let fees = units(FEE) * n as i64;
        let rake = fees * 5 / 100;
        let total = units(POOL) + fees - rake;
        let paid: i64 = t.prizes.iter().sum();
        assert_eq!(
            paid + t.rake,
            units(POOL) + fees,
            "every unit paid or raked"
        );
        assert_eq!(t.prizes[0], total / 2);
        assert_eq!(world.usd_of(entrants[0]), units(100 - FEE) + total / 2);
    }
}

#[test]
fn a_round_robin_of_five_with_draws_splits_tied_prizes_exactly() {
    let mut world = World::new();
    let game = connect_four(&mut world);
    let entrants = players(&mut world, 5);
    world.deposit(world.admin, units(POOL));
    let c = world.tournament_command(game, TournamentFormat::RoundRobin, (3, 5), 0);
    let id = world.create_tournament(c);
    for &user in &entrants {
        world.enter(id, user);
    }
    world.start(id);
    // One round at a time: two games (one player rests), not all ten at once.
    assert_eq!(world.live_matches(id).len(), 2);
    // Everyone draws everyone: five tied for first share all three prizes.
    let games = world.drive(id, |_, _| None);
    assert_eq!(games, 10);
    let t = world.tournament(id);
    let total = units(POOL) + units(FEE * 5) - units(FEE * 5) * 5 / 100;
    let each = total / 5;
    assert_eq!(t.prizes, vec![each; 5]);
    assert_eq!(t.rake, units(FEE * 5) * 5 / 100 + (total - each * 5));
    for &user in &entrants {
        assert_eq!(world.usd_of(user), units(100 - FEE) + each);
    }
}

#[test]
fn a_swiss_of_nine_pairs_without_rematches_and_gives_byes() {
    let mut world = World::new();
    let game = connect_four(&mut world);
    let entrants = players(&mut world, 9);
    world.deposit(world.admin, units(POOL));
    let c = world.tournament_command(game, TournamentFormat::Swiss, (5, 9), 4);
    let id = world.create_tournament(c);
    for &user in &entrants {
        world.enter(id, user);
    }
    world.start(id);
    let games = world.drive(id, favourite);
    assert_eq!(games, 16, "four rounds of four games, and a bye each");
    let bracket = world.tournament(id).bracket.clone().unwrap();
    let mut pairs = std::collections::BTreeSet::new();
    for m in &bracket.matches {
        if let Some([a, b]) = m.players() {
            assert!(pairs.insert((a.min(b), a.max(b))), "no rematch");
        }
    }
    let standings = bracket.standings();
    assert_eq!((standings[0].seed, standings[0].points_half), (1, 8));
}

#[test]
fn no_shows_forfeit_and_drawn_elimination_matches_are_replayed() {
    let mut world = World::new();
    let game = connect_four(&mut world);
    let entrants = players(&mut world, 4);
    world.deposit(world.admin, units(POOL));
    let c = world.tournament_command(game, TournamentFormat::SingleElimination, (3, 4), 0);
    let id = world.create_tournament(c);
    for &user in &entrants {
        world.enter(id, user);
    }
    world.start(id);
    let live = world.live_matches(id);
    assert_eq!(live.len(), 2);
    let (m0, s0, seeds0) = live[0];
    let (m1, s1, _) = live[1];
    // Match 0: only seed 1 sits down; match 1: nobody does.
    let users0 = seeds0.map(|s| world.seed(id, s));
    world.join(users0[0], s0);
    // Outsiders and the wrong player cannot take a match's seat, nobody can leave it.
    let code = world.err(Command::JoinGameSession(JoinGameSession {
        actor: users0[0],
        session: s1,
        code: String::new(),
        client_seed: "x".to_owned(),
    }));
    assert_eq!(code, ResultCode::NotYourMatch);
    let code = world.err(Command::LeaveGameSession(GameSessionAction {
        actor: users0[0],
        session: s0,
    }));
    assert_eq!(code, ResultCode::TournamentMatch);
    world.advance(61);
    let t = world.tournament(id);
    let bracket = t.bracket.as_ref().unwrap();
    assert_eq!(
        bracket.matches[usize::from(m0)].result,
        Some(MatchResult::Won(0))
    );
    assert_eq!(
        bracket.matches[usize::from(m1)].result,
        Some(MatchResult::DoubleForfeit)
    );
    // The final is a walkover: seed 1 is champion without another game.
    assert_eq!(t.status, TournamentStatus::Completed);
    assert_eq!(world.usd_of(users0[0]), units(100 - FEE) + t.prizes[0]);
    assert!(t.prizes[0] > 0);

    // Draws in elimination: replayed up to three games, then the better seed goes on.
    let mut world = World::new();
    let game = connect_four(&mut world);
    let entrants = players(&mut world, 2);
    world.deposit(world.admin, units(POOL));
    let c = world.tournament_command(game, TournamentFormat::SingleElimination, (2, 2), 0);
    let c = CreateTournament {
        distribution_bp: vec![7_000, 3_000],
        ..c
    };
    let id = world.create_tournament(c);
    for &user in &entrants {
        world.enter(id, user);
    }
    world.start(id);
    let games = world.drive(id, |_, _| None);
    assert_eq!(games, 3);
    let t = world.tournament(id);
    assert_eq!(t.plays[&0].len(), 3);
    assert_eq!(t.status, TournamentStatus::Completed);
    assert_eq!(t.prizes[0], (units(POOL) + units(20) - units(1)) * 7 / 10);
}

#[test]
fn registration_refunds_and_a_tournament_without_its_field_is_cancelled() {
    let mut world = World::new();
    let game = connect_four(&mut world);
    let entrants = players(&mut world, 3);
    world.deposit(world.admin, units(POOL));
    let before_admin = world.usd_of(world.admin);
    let c = world.tournament_command(game, TournamentFormat::RoundRobin, (4, 8), 0);
    let id = world.create_tournament(c.clone());
    for &user in &entrants {
        world.enter(id, user);
    }
    let again = Command::RegisterTournament(TournamentAction {
        actor: entrants[0],
        tournament: id,
    });
    assert_eq!(world.err(again), ResultCode::AlreadyRegistered);
    world.ok(Command::UnregisterTournament(TournamentAction {
        actor: entrants[2],
        tournament: id,
    }));
    assert_eq!(world.usd_of(entrants[2]), units(100));
    let not = Command::UnregisterTournament(TournamentAction {
        actor: entrants[2],
        tournament: id,
    });
    assert_eq!(world.err(not), ResultCode::NotRegistered);
    let outsider = Command::CancelTournament(TournamentAction {
        actor: entrants[0],
        tournament: id,
    });
    assert_eq!(world.err(outsider), ResultCode::NotTournamentCreator);
    let early = Command::StartTournament(TournamentAction {
        actor: world.admin,
        tournament: id,
    });
    assert_eq!(world.err(early), ResultCode::NotEnoughPlayers);
    // Two of four at the start: cancelled, everyone and the pool refunded.
    let starts_at = world.tournament(id).starts_at;
    world.now = starts_at;
    world.ok(Command::Tick(Tick {}));
    assert_eq!(world.tournament(id).status, TournamentStatus::Cancelled);
    for &user in &entrants {
        assert_eq!(world.usd_of(user), units(100));
    }
    assert_eq!(world.usd_of(world.admin), before_admin);
    let late = Command::RegisterTournament(TournamentAction {
        actor: entrants[0],
        tournament: id,
    });
    assert_eq!(world.err(late), ResultCode::TournamentNotOpen);

    // Settings out of range change nothing (each from a valid command, accepted last).
    let c = CreateTournament {
        starts_at: world.now.saturating_add_micros(3_600 * 1_000_000),
        ..c
    };
    let bad = [
        CreateTournament {
            min_players: 1,
            ..c.clone()
        },
        CreateTournament {
            max_players: 300,
            ..c.clone()
        },
        CreateTournament {
            distribution_bp: vec![6_000, 3_000],
            ..c.clone()
        },
        CreateTournament {
            starts_at: world.now,
            ..c.clone()
        },
        CreateTournament {
            starts_at: world.now.saturating_add_micros(91 * 86_400_000_000),
            ..c.clone()
        },
        CreateTournament {
            check_in_secs: 5,
            ..c.clone()
        },
        CreateTournament {
            rounds: 3,
            ..c.clone()
        },
        CreateTournament {
            third_place: true,
            ..c.clone()
        },
        CreateTournament {
            min_players: 2,
            ..c.clone()
        },
        // A round robin is for fields of up to 32.
        CreateTournament {
            max_players: 33,
            ..c.clone()
        },
        CreateTournament {
            format: TournamentFormat::Swiss,
            rounds: 4,
            ..c.clone()
        },
    ];
    for c in bad {
        assert_eq!(
            world.err(Command::CreateTournament(c)),
            ResultCode::InvalidTournament
        );
    }
    // Fewer players than paid places (above) cannot be the minimum; a blank name is text
    // the core refuses.
    let blank = CreateTournament {
        name: " ".to_owned(),
        ..c.clone()
    };
    assert_eq!(
        world.err(Command::CreateTournament(blank)),
        ResultCode::InvalidText
    );
    let poor = CreateTournament {
        actor: entrants[0],
        prize_pool: Amount(units(1_000)),
        ..c.clone()
    };
    assert_eq!(
        world.err(Command::CreateTournament(poor)),
        ResultCode::InsufficientFunds
    );
    world.create_tournament(c);
}

#[test]
fn a_snapshot_mid_tournament_plus_replay_reproduces_the_live_run() {
    let mut world = World::new();
    let game = connect_four(&mut world);
    let entrants = players(&mut world, 5);
    world.deposit(world.admin, units(POOL));
    let c = world.tournament_command(game, TournamentFormat::DoubleElimination, (3, 8), 0);
    let id = world.create_tournament(c);
    for &user in &entrants {
        world.enter(id, user);
    }
    world.start(id);
    // The first round's one game, then a snapshot with matches waiting.
    let (_, session, seeds) = world.live_matches(id)[0];
    let users = seeds.map(|s| world.seed(id, s));
    world.join(users[0], session);
    world.join(users[1], session);
    world.play(session, FIRST_WINS);
    let cut = world.journal.len();
    let snapshot = world.engine.snapshot();
    let restored = Engine::restore(&snapshot).expect("restores");
    assert_eq!(restored.state_hash(), world.engine.state_hash());
    world.drive(id, favourite);
    assert_eq!(world.tournament(id).status, TournamentStatus::Completed);
    world.replays_to_now(Engine::restore(&snapshot).unwrap(), cut);
}
