//! A realtime games workload for the engine: `sessions` live crash rounds at 20 Hz, one
//! player each (the round's creator), all started at the same instant so that every
//! `Tick` advances all of them at once — the game loop's worst case.

use betbet_engine::{Ctx, Engine, Limits};
use betbet_protocol::command::{
    Command, Configure, ConfirmDeposit, InitiateDeposit, RegisterUser, Role, SetUserRole, Tick,
};
use betbet_protocol::event::Event;
use betbet_protocol::games::{
    CreateGame, CreateGameSession, FundBankroll, GAME_PLAYERS_MAX, GameId, GameSessionAction,
    GameSettings, RuleSet,
};
use betbet_protocol::message::{Reply, Response};
use betbet_protocol::types::{AMOUNT_SCALE, Amount, Currency, Timestamp, UserId};

/// The tick rate of the workload's rounds.
pub const TICK_HZ: u32 = 20;

/// The engine with every round started.
pub struct Rounds {
    pub engine: Engine,
    started: Timestamp,
    seq: u64,
}

impl Rounds {
    /// The `k`-th `Tick` after the start (from 1), stamped as the runtime would stamp it.
    pub fn tick(&self, k: u32) -> (Command, Ctx) {
        let at = self
            .started
            .saturating_add_micros(i64::from(k) * 1_000_000 / i64::from(TICK_HZ));
        let seq = self.seq + u64::from(k);
        (Command::Tick(Tick {}), Ctx { at, seed: seq, seq })
    }
}

struct Driver {
    engine: Engine,
    seq: u64,
    at: Timestamp,
    out: Vec<Event>,
}

impl Driver {
    fn apply(&mut self, command: Command) -> Reply {
        self.seq += 1;
        self.out.clear();
        let ctx = Ctx {
            at: self.at,
            seed: self.seq,
            seq: self.seq,
        };
        match self.engine.apply(&command, &ctx, &mut self.out) {
            Response::Accepted(reply) => reply,
            Response::Rejected(code) => panic!("setup {} rejected: {code}", command.kind()),
        }
    }

    /// A user with `whole_units` of sandbox money.
    fn user(&mut self, name: &str, whole_units: i64, usd: Currency) -> UserId {
        let Reply::UserRegistered(user) = self.apply(Command::RegisterUser(RegisterUser {
            username: name.to_owned(),
            email: format!("{name}@bench.betbet"),
            password_hash: "$argon2id$bench".to_owned(),
            referral_code: None,
        })) else {
            unreachable!()
        };
        let Reply::Tx(deposit) = self.apply(Command::InitiateDeposit(InitiateDeposit {
            actor: user.user,
            user: user.user,
            currency: usd,
            amount: Amount(whole_units * AMOUNT_SCALE),
            payment_method: "sandbox".to_owned(),
            idempotency_key: None,
        })) else {
            unreachable!()
        };
        self.apply(Command::ConfirmDeposit(ConfirmDeposit {
            actor: UserId::SYSTEM,
            deposit: deposit.tx,
            provider_reference: "bench".to_owned(),
        }));
        user.user
    }
}

/// Builds `sessions` live crash rounds (each its creator's only, started together).
pub fn build(sessions: usize) -> Rounds {
    let usd = Currency::new("USD").expect("valid");
    let units = |n: i64| Amount(n * AMOUNT_SCALE);
    let mut driver = Driver {
        engine: Engine::new(Limits::default()),
        seq: 0,
        at: Timestamp::from_secs(1_700_000_000),
        out: Vec::with_capacity(1 << 10),
    };
    driver.apply(Command::Configure(Configure {
        currencies: vec![usd],
        wallet_balance_max: units(10_000_000),
        currency_supply_max: Amount(betbet_engine::CURRENCY_SUPPLY_CEILING),
        ..betbet_engine::Config::default().to_command(UserId::SYSTEM)
    }));
    let house = driver.user("house", 5_000_000, usd);
    driver.apply(Command::SetUserRole(SetUserRole {
        actor: UserId::SYSTEM,
        user: house,
        role: Role::Admin,
    }));
    driver.apply(Command::FundBankroll(FundBankroll {
        actor: house,
        currency: usd,
        amount: units(5_000_000),
    }));
    let Reply::Created(game) = driver.apply(Command::CreateGame(CreateGame {
        actor: house,
        settings: GameSettings {
            name: "Bench crash".to_owned(),
            category: "bench".to_owned(),
            subcategory: String::new(),
            description: String::new(),
            rule_set: RuleSet::Crash,
            min_players: 1,
            max_players: GAME_PLAYERS_MAX,
            rules: "{}".to_owned(),
            thumbnail_url: String::new(),
            turn_clock_ms: 1_000,
            increment_ms: 0,
            tick_hz: TICK_HZ,
            house_edge_bp: 100,
            round_profit_max: units(100),
            questions: 0,
            start_timeout_secs: 600,
            rake_bp: 0,
            spectator_share_bp: 0,
            stake_min: Amount(1),
            stake_max: units(1_000),
        },
    })) else {
        unreachable!()
    };
    for i in 0..sessions {
        let player = driver.user(&format!("player{i:05}"), 10, usd);
        let mut server_seed = [0u8; 32];
        server_seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let Reply::Created(session) = driver.apply(Command::CreateGameSession(CreateGameSession {
            actor: player,
            game: GameId(game.id),
            stake: units(1),
            currency: usd,
            is_private: false,
            max_players: 0,
            spectator_fee: Amount(0),
            server_seed,
            client_seed: format!("bench{i}"),
        })) else {
            unreachable!()
        };
        driver.apply(Command::StartGameSession(GameSessionAction {
            actor: player,
            session: betbet_protocol::games::GameSessionId(session.id),
        }));
    }
    Rounds {
        started: driver.at,
        seq: driver.seq,
        engine: driver.engine,
    }
}
