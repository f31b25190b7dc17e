//! Crash: a multiplier rises from 1.00× until a provably fair crash point; each player
//! cashes out before the crash (stake × multiplier) or loses the stake to the house.
//!
//! All integer. The multiplier is kept in units of 10^-8 and compounds on every tick by
//! `61 800 / tick_hz` parts per million (about 6.2 % a second at any rate); it is shown
//! and paid in hundredths, rounded down. The crash point, in hundredths, is the session's
//! `crash_point` draw: `max(100, floor((10000 − edge_bp) × 2^32 / (2^32 − fraction) /
//! 100))`, at most [`CRASH_POINT_MAX`]. With f uniform, P(crash ≥ m) = (1 − edge) / m, so
//! a cash-out at any target returns `1 − edge` of the stake on average: the house edge.
//!
//! The house's exposure is bounded: a round may pay at most `profit_max` above its stakes
//! (its reserve, taken from the bankroll at the session's creation). The round's `cap` is
//! the multiplier at which everyone still in would reach it; a tick past the cap cashes
//! them all out at the cap.
//!
//! A cash-out is priced at the tick the command's time falls in, so a cash-out that
//! arrives while the next tick is being applied is neither refused nor favoured, and one
//! in or after the crash's tick is refused.

use super::rules::{Draws, Outcome, Rules, Start};
use betbet_protocol::games::{CashOut, CrashView, DrawPurpose, GameEnd, GameStateView};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::Timestamp;

/// The highest crash point, in hundredths (1 000 000×).
pub const CRASH_POINT_MAX: u32 = 100_000_000;
/// Ticks a second.
pub const TICK_HZ_MIN: u32 = 10;
pub const TICK_HZ_MAX: u32 = 20;
/// The largest house edge, in basis points (10 %).
pub const HOUSE_EDGE_BP_MAX: u16 = 1_000;
/// 1.00× in the multiplier's units.
const ONE: i64 = 100_000_000;

/// The crash point a fraction gives, in hundredths.
pub fn crash_point(fraction: u32, house_edge_bp: u16) -> u32 {
    let numerator = u128::from(10_000 - house_edge_bp.min(10_000)) << 32;
    let denominator = ((1u128 << 32) - u128::from(fraction)) * 100;
    (numerator / denominator).clamp(100, u128::from(CRASH_POINT_MAX)) as u32
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// In hundredths; secret until the round ends.
    pub crash_point: u32,
    pub tick_hz: u32,
    pub started: Timestamp,
    /// Every seat's stake (a session's stakes are equal).
    pub stake: i64,
    pub profit_max: i64,
    pub players: u32,
    /// Ticks applied, and the multiplier after the last (10^-8 units).
    pub tick: u32,
    pub multiplier: i64,
    pub cash_outs: Vec<CashOut>,
    pub crashed: bool,
}

/// The multiplier one tick later.
fn step(multiplier: i64, tick_hz: u32) -> i64 {
    let growth = 61_800 / i128::from(tick_hz.max(1));
    multiplier + (i128::from(multiplier) * growth / 1_000_000) as i64
}

fn hundredths(multiplier: i64) -> u32 {
    (multiplier / 1_000_000).min(i64::from(u32::MAX)) as u32
}

impl Crash {
    /// A round from what a snapshot keeps; the multiplier is recomputed from the ticks,
    /// so a snapshot cannot hold one the round could not reach.
    #[allow(clippy::too_many_arguments)]
    pub fn replay(
        crash_point: u32,
        tick_hz: u32,
        started: Timestamp,
        stake: i64,
        profit_max: i64,
        players: u32,
        tick: u32,
        cash_outs: Vec<CashOut>,
        crashed: bool,
    ) -> Option<Crash> {
        let valid = (100..=CRASH_POINT_MAX).contains(&crash_point)
            && (TICK_HZ_MIN..=TICK_HZ_MAX).contains(&tick_hz)
            && stake > 0
            && profit_max >= 0
            && cash_outs.len() <= players as usize
            // Seats cash out once each. (A cash-out's tick may be past the last applied
            // one: it is priced at the tick its own time falls in.)
            && cash_outs.iter().enumerate().all(|(i, c)| {
                c.seat < players && cash_outs[..i].iter().all(|d| d.seat != c.seat)
            });
        if !valid {
            return None;
        }
        let mut game = Crash {
            crash_point,
            tick_hz,
            started,
            stake,
            profit_max,
            players,
            tick: 0,
            multiplier: ONE,
            cash_outs,
            crashed,
        };
        game.multiplier = game.multiplier_at(tick);
        game.tick = tick;
        Some(game)
    }

    /// The multiplier at tick `k` (not before the last applied one). It stops rising at
    /// the crash point: past it nothing is priced (the round has crashed), and a round
    /// whose ticks were held up for minutes cannot overflow.
    fn multiplier_at(&self, k: u32) -> i64 {
        let mut m = self.multiplier;
        for _ in self.tick..k {
            if hundredths(m) >= self.crash_point {
                break;
            }
            m = step(m, self.tick_hz);
        }
        m
    }

    /// The tick `now` falls in.
    fn tick_at(&self, now: Timestamp) -> u32 {
        let elapsed = now.0.saturating_sub(self.started.0).max(0);
        let ticks = i128::from(elapsed) * i128::from(self.tick_hz) / 1_000_000;
        (ticks.min(i128::from(u32::MAX)) as u32).max(self.tick)
    }

    fn cashed(&self, seat: u32) -> bool {
        self.cash_outs.iter().any(|c| c.seat == seat)
    }

    fn still_in(&self) -> u32 {
        self.players - self.cash_outs.len() as u32
    }

    fn over(&self) -> bool {
        self.crashed || self.still_in() == 0
    }

    /// What a cash-out at `multiplier` (hundredths) pays: the stake times it, rounded down.
    pub fn payout(&self, multiplier: u32) -> i64 {
        (i128::from(self.stake) * i128::from(multiplier) / 100) as i64
    }

    /// The multiplier at which everyone still in would take the round's remaining payout
    /// room above the stakes, in hundredths.
    fn cap(&self) -> u32 {
        let taken: i64 = self
            .cash_outs
            .iter()
            .map(|c| self.payout(c.multiplier) - self.stake)
            .sum();
        let room = i128::from((self.profit_max - taken).max(0));
        let at_risk = i128::from(self.stake) * i128::from(self.still_in().max(1));
        (100 + room * 100 / at_risk).min(i128::from(CRASH_POINT_MAX)) as u32
    }

    /// Every seat's payout, for the end.
    fn outcome(&self) -> Outcome {
        let mut payouts = vec![0; self.players as usize];
        let mut winners = Vec::new();
        for c in &self.cash_outs {
            payouts[c.seat as usize] = self.payout(c.multiplier);
            winners.push(c.seat as usize);
        }
        winners.sort_unstable();
        Outcome {
            end: if self.crashed {
                GameEnd::Crashed
            } else {
                GameEnd::AllCashedOut
            },
            winners,
            payouts,
        }
    }

    /// Everyone still in cashes out at `multiplier`, taken at `tick`.
    fn cash_out_all(&mut self, multiplier: u32, tick: u32) {
        for seat in 0..self.players {
            if !self.cashed(seat) {
                self.cash_outs.push(CashOut {
                    seat,
                    multiplier,
                    tick,
                    forced: true,
                });
            }
        }
    }
}

impl Rules for Crash {
    fn start(start: &Start, draws: &mut Draws<'_>) -> Self {
        let edge = start.house_edge_bp;
        let point = draws.draw(DrawPurpose::CrashPoint, |fraction| {
            u64::from(crash_point(fraction, edge))
        }) as u32;
        Crash {
            crash_point: point,
            tick_hz: start.tick_hz,
            started: start.now,
            stake: start.stake,
            profit_max: start.round_profit_max,
            players: start.players as u32,
            tick: 0,
            multiplier: ONE,
            cash_outs: Vec::new(),
            crashed: false,
        }
    }

    /// Everyone plays at once.
    fn to_move(&self) -> Option<usize> {
        None
    }

    /// `cashout`, once, before the crash.
    fn apply_move(
        &mut self,
        seat: usize,
        mv: &str,
        now: Timestamp,
    ) -> Result<Option<Outcome>, ResultCode> {
        if mv != "cashout" || self.cashed(seat as u32) {
            return Err(ResultCode::IllegalMove);
        }
        if self.over() {
            return Err(ResultCode::GameSessionNotActive);
        }
        let tick = self.tick_at(now);
        // Past the cap, the cap's price (the tick would cash everyone out there).
        let price = hundredths(self.multiplier_at(tick)).min(self.cap());
        if price >= self.crash_point {
            // The round crashed in this tick or before: its `Tick` settles it.
            return Err(ResultCode::GameSessionNotActive);
        }
        self.cash_outs.push(CashOut {
            seat: seat as u32,
            multiplier: price,
            tick,
            forced: false,
        });
        Ok((self.still_in() == 0).then(|| self.outcome()))
    }

    /// The next tick.
    fn turn_deadline(&self, _now: Timestamp, _turn_clock_ms: u32) -> Option<Timestamp> {
        if self.over() {
            return None;
        }
        let next = i128::from(self.tick) + 1;
        let at = next * 1_000_000 / i128::from(self.tick_hz);
        Some(self.started.saturating_add_micros(at as i64))
    }

    /// The rise to the tick `now` falls in (one at least; a late tick catches up).
    fn on_tick(&mut self, now: Timestamp) -> Option<Outcome> {
        let tick = self.tick_at(now).max(self.tick + 1);
        let multiplier = self.multiplier_at(tick);
        self.tick = tick;
        self.multiplier = multiplier;
        let shown = hundredths(multiplier);
        // Whichever the rise reached first this tick: the cap (everyone still in is
        // cashed out there) or the crash point.
        let cap = self.cap();
        if shown > cap && cap < self.crash_point {
            self.cash_out_all(cap, tick);
            return Some(self.outcome());
        }
        if shown >= self.crash_point {
            self.crashed = true;
            return Some(self.outcome());
        }
        None
    }

    /// The rise, sent 10 to 20 times a second, without the cash-outs (those come with
    /// the moves that made them).
    fn tick_delta(&self) -> Option<(u32, u32)> {
        Some((self.tick, hundredths(self.multiplier)))
    }

    /// The multiplier cashed out at, in hundredths (0 for a bust).
    fn score(&self, seat: usize) -> Option<i64> {
        let out = self.cash_outs.iter().find(|c| c.seat as usize == seat);
        Some(out.map_or(0, |c| i64::from(c.multiplier)))
    }

    /// Nobody resigns a crash round: a player who goes stays in it (the stake rides until
    /// a cash-out or the crash).
    fn forfeit(&mut self, _seat: usize, _end: GameEnd) -> Result<Outcome, ResultCode> {
        Err(ResultCode::IllegalMove)
    }

    fn view(&self) -> GameStateView {
        let over = self.over();
        GameStateView::Crash(CrashView {
            multiplier: if self.crashed {
                self.crash_point
            } else {
                hundredths(self.multiplier)
            },
            tick: self.tick,
            tick_hz: self.tick_hz,
            started: self.started,
            crash_point: over.then_some(self.crash_point),
            crashed: self.crashed,
            cash_outs: self.cash_outs.clone(),
            cap: self.cap(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: Timestamp = Timestamp(5_000_000_000);

    /// A round at 10 Hz: stake 10 units of 10^-8 × 10^8, `players` in, crash at `point`.
    fn round(point: u32, players: u32, profit_max: i64) -> Crash {
        Crash::replay(
            point,
            10,
            START,
            10 * ONE,
            profit_max,
            players,
            0,
            Vec::new(),
            false,
        )
        .expect("a valid round")
    }

    fn at_ms(ms: i64) -> Timestamp {
        Timestamp(START.0 + ms * 1_000)
    }

    #[test]
    fn crash_points_fall_at_their_exact_fractions() {
        // (multiplier, the first fraction reaching it at a 1% edge), computed apart with
        // Python's integers: N = 9900 × 2^32, n0 = 2^32 − N // (100 × m).
        for (m, n0) in [
            (101, 85_048_858u32),
            (150, 1_460_288_881),
            (200, 2_168_958_485),
            (1_000, 3_869_765_534),
        ] {
            assert_eq!(crash_point(n0, 100), m, "{m}");
            assert_eq!(crash_point(n0 - 1, 100), m - 1, "{m} − 1");
        }
        // 1.00× for the lowest fractions (the edge's instant crashes), and the ceiling.
        assert_eq!(crash_point(0, 100), 100);
        assert_eq!(crash_point(0, 0), 100);
        assert_eq!(crash_point(u32::MAX, 0), CRASH_POINT_MAX);
    }

    #[test]
    fn the_edge_is_what_a_fixed_target_returns_on_average() {
        // Over fractions spread evenly across [0, 2^32), a cash-out at 2.00× wins as often
        // as the crash point reaches 2.00×: (1 − edge) / 2 of the time, so it returns 0.99
        // of the stake at a 1% edge (to the sampling's resolution).
        let samples = 1u64 << 20;
        let wins = (0..samples)
            .filter(|i| crash_point((i << 12) as u32, 100) >= 200)
            .count() as u64;
        let returned_ppm = wins * 2 * 1_000_000 / samples;
        assert!(
            (989_990..=990_010).contains(&returned_ppm),
            "{returned_ppm}"
        );
    }

    #[test]
    fn the_multiplier_compounds_each_tick() {
        // Computed apart: m = 10^8; m += m × (61 800 // hz) // 10^6 per tick.
        let mut game = round(CRASH_POINT_MAX, 1, 1_000 * ONE);
        for (tick, multiplier) in [
            (1, 100_618_000),
            (10, 106_354_726),
            (50, 136_076_757),
            (100, 185_168_843),
        ] {
            assert_eq!(game.multiplier_at(tick), multiplier, "tick {tick}");
        }
        // Ticks every 100 ms; a late tick catches up to the time it runs at.
        assert_eq!(game.turn_deadline(START, 0), Some(at_ms(100)));
        assert_eq!(game.on_tick(at_ms(100)), None);
        assert_eq!((game.tick, game.multiplier), (1, 100_618_000));
        assert_eq!(game.on_tick(at_ms(1_000)), None);
        assert_eq!((game.tick, game.multiplier), (10, 106_354_726));
        assert_eq!(game.turn_deadline(at_ms(1_000), 0), Some(at_ms(1_100)));
        let mut fast = Crash::replay(
            CRASH_POINT_MAX,
            20,
            START,
            ONE,
            ONE,
            1,
            0,
            Vec::new(),
            false,
        )
        .unwrap();
        assert_eq!(
            fast.multiplier_at(20),
            106_364_812,
            "about the same second at 20 Hz"
        );
        assert_eq!(fast.on_tick(at_ms(50)), None);
        assert_eq!(fast.tick, 1);
    }

    #[test]
    fn cash_outs_are_priced_at_their_own_tick_and_refused_after_the_crash() {
        let mut game = round(136, 3, 1_000 * ONE);
        game.on_tick(at_ms(100));
        // Seat 0 at 1.06× (tick 10), though only tick 1 was applied.
        assert_eq!(game.apply_move(0, "cashout", at_ms(1_050)), Ok(None));
        assert_eq!(
            game.cash_outs[0],
            CashOut {
                seat: 0,
                multiplier: 106,
                tick: 10,
                forced: false
            }
        );
        assert_eq!(
            game.apply_move(0, "cashout", at_ms(1_060)),
            Err(ResultCode::IllegalMove),
            "once"
        );
        assert_eq!(
            game.apply_move(1, "cash out", at_ms(1_060)),
            Err(ResultCode::IllegalMove)
        );
        // Tick 50 is 1.36×: the crash point, so a cash-out in it is refused...
        let before = game.clone();
        assert_eq!(
            game.apply_move(1, "cashout", at_ms(5_000)),
            Err(ResultCode::GameSessionNotActive)
        );
        assert_eq!(game, before);
        // ...and a cash-out in tick 49 (1.35×) is not.
        assert_eq!(game.apply_move(1, "cashout", at_ms(4_999)), Ok(None));
        assert_eq!(game.cash_outs[1].multiplier, 135);
        // The tick of the crash settles: seats 0 and 1 paid, seat 2 lost.
        let outcome = game.on_tick(at_ms(5_000)).expect("the crash");
        assert_eq!(outcome.end, GameEnd::Crashed);
        assert_eq!(outcome.winners, [0, 1]);
        assert_eq!(
            outcome.payouts,
            [10 * ONE * 106 / 100, 10 * ONE * 135 / 100, 0]
        );
        assert!(game.crashed);
        assert_eq!(game.turn_deadline(at_ms(5_000), 0), None);
        let GameStateView::Crash(view) = game.view() else {
            panic!("crash")
        };
        assert_eq!((view.multiplier, view.crash_point), (136, Some(136)));
    }

    #[test]
    fn an_instant_crash_takes_every_stake() {
        let mut game = round(100, 2, 1_000 * ONE);
        assert_eq!(
            game.apply_move(0, "cashout", START),
            Err(ResultCode::GameSessionNotActive)
        );
        let outcome = game.on_tick(at_ms(100)).expect("crashed at once");
        assert_eq!(outcome.payouts, [0, 0]);
        assert!(outcome.winners.is_empty());
    }

    #[test]
    fn the_payout_cap_cashes_everyone_out_before_the_crash() {
        // Two stakes of 10 and 5 of room above them: the cap is 1.25×, whatever the crash.
        let mut game = round(CRASH_POINT_MAX, 2, 5 * ONE);
        assert_eq!(game.cap(), 125);
        // Tick 36 is 1.24×, tick 37 1.25× (at the cap, not past it), tick 38 past it.
        assert_eq!(hundredths(game.multiplier_at(37)), 125);
        assert_eq!(game.on_tick(at_ms(3_700)), None);
        let outcome = game.on_tick(at_ms(3_800)).expect("capped");
        assert_eq!(outcome.end, GameEnd::AllCashedOut);
        assert_eq!(outcome.payouts, [125 * ONE / 10, 125 * ONE / 10]);
        assert!(
            game.cash_outs
                .iter()
                .all(|c| c.forced && c.multiplier == 125)
        );
        // The house paid exactly its room.
        assert_eq!(outcome.payouts.iter().sum::<i64>() - 20 * ONE, 5 * ONE);

        // A cash-out raises what is left for the others: one out at 1.10× leaves 4 of
        // room for one stake of 10, a cap of 1.40×.
        let mut game = round(CRASH_POINT_MAX, 2, 5 * ONE);
        game.on_tick(at_ms(1_600));
        assert_eq!(hundredths(game.multiplier), 110);
        game.apply_move(0, "cashout", at_ms(1_600)).unwrap();
        assert_eq!(game.cap(), 140);
        // A cash-out past the cap (before its tick ran) is priced at the cap; the last one
        // ends the round.
        let outcome = game
            .apply_move(1, "cashout", at_ms(9_000))
            .unwrap()
            .expect("all out");
        assert_eq!(
            game.cash_outs[1],
            CashOut {
                seat: 1,
                multiplier: 140,
                tick: 90,
                forced: false
            }
        );
        assert_eq!(outcome.end, GameEnd::AllCashedOut);
        assert_eq!(outcome.payouts, [11 * ONE, 14 * ONE]);
    }

    #[test]
    fn a_round_held_up_for_an_hour_crashes_without_overflowing() {
        // The highest crash point and room to pay it: the multiplier stops at the crash.
        let mut game = round(CRASH_POINT_MAX, 1, i64::MAX / 4);
        assert_eq!(game.cap(), CRASH_POINT_MAX);
        let before = game.clone();
        assert_eq!(
            game.apply_move(0, "cashout", at_ms(3_600_000)),
            Err(ResultCode::GameSessionNotActive)
        );
        assert_eq!(game, before);
        let outcome = game.on_tick(at_ms(3_600_000)).expect("crashed long ago");
        assert_eq!(outcome.end, GameEnd::Crashed);
        // One step past the crash point, and no further.
        let shown = hundredths(game.multiplier);
        assert!((CRASH_POINT_MAX..CRASH_POINT_MAX + CRASH_POINT_MAX / 100).contains(&shown));
        assert_eq!(game.tick, 36_000);
    }

    #[test]
    fn a_replay_rebuilds_the_round() {
        let mut game = round(300, 3, 1_000 * ONE);
        game.on_tick(at_ms(700));
        // Priced at its own tick (12), past the last applied one (7).
        game.apply_move(2, "cashout", at_ms(1_250)).unwrap();
        assert_eq!((game.tick, game.cash_outs[0].tick), (7, 12));
        let again = Crash::replay(
            game.crash_point,
            game.tick_hz,
            game.started,
            game.stake,
            game.profit_max,
            game.players,
            game.tick,
            game.cash_outs.clone(),
            game.crashed,
        );
        assert_eq!(again.as_ref(), Some(&game));
        assert!(Crash::replay(99, 10, START, ONE, 0, 1, 0, Vec::new(), false).is_none());
        assert!(Crash::replay(200, 30, START, ONE, 0, 1, 0, Vec::new(), false).is_none());
        let stray = CashOut {
            seat: 5,
            multiplier: 150,
            tick: 0,
            forced: false,
        };
        assert!(Crash::replay(200, 10, START, ONE, 0, 1, 0, vec![stray], false).is_none());
        let twice = CashOut { seat: 0, ..stray };
        assert!(Crash::replay(200, 10, START, ONE, 0, 2, 0, vec![twice, twice], false).is_none());
    }
}
