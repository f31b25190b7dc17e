//! Glicko-2 skill ratings, in fixed-point integers.
//!
//! Why Glicko-2 and not Elo: a rating with its uncertainty (the rating deviation) lets a
//! newcomer's rating move fast and a regular's slowly, grows uncertain again after a long
//! absence, and gives seeding and matchmaking a confidence to go by; Elo's one number and
//! fixed K-factor give none of that. Lichess rates every game this way.
//!
//! Why integers: the engine is replayed from its journal, possibly on another machine, and
//! must reach the same state bit for bit; `f64`'s `exp` and `ln` come from the platform's
//! maths library, which may round differently from one libc to the next. So every step of
//! Glickman's algorithm (Glickman, "Example of the Glicko-2 system", 2013) runs here on
//! Q32.32 fixed-point numbers in `i128`, with `exp`, `ln` and `sqrt` computed by series
//! whose every operation is an integer one.
//!
//! Scale: the spec's profiles start at `skill_rating` 1000, so a rating here is Glicko-2's
//! 1500-based scale moved down by 500 — a constant shift, which changes no expected score
//! and no update. A new player has rating 1000, deviation 350, volatility 0.06.
//!
//! Each rated game is one rating period for each of its players: everyone they played in
//! it is one of that period's opponents (a multi-player game counts every pair: a win over
//! each player below, a draw with each equal, a loss to each above). A player idle for
//! whole days first has their deviation grown by one period's volatility per day (at most
//! a year's), up to the newcomer's 350.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A Q32.32 fixed-point number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Fx(i128);

const FRACTION_BITS: u32 = 32;
const ONE: Fx = Fx(1 << FRACTION_BITS);
/// ln 2, π² and Glicko-2's scale 173.7178 (= 400 / ln 10), rounded to Q32.32.
const LN2: Fx = Fx(2_977_044_472);
const PI_SQUARED: Fx = Fx(42_389_628_127);
const SCALE: Fx = Fx(746_112_269_733);
/// The system constant τ, which bounds how fast volatility changes (Glickman suggests
/// 0.3 to 1.2), and the volatility iteration's tolerance (10⁻⁶).
const TAU: Fx = Fx(1 << (FRACTION_BITS - 1));
const EPSILON: Fx = Fx(4_295);
/// Iterations of the volatility search; it converges in well under 30, the bound only
/// keeps a pathological input from looping.
const ITERATIONS_MAX: u32 = 100;
/// Above this estimated variance a period is rated in the limit of an infinite one (see
/// [`rate`]).
const VARIANCE_MAX: Fx = Fx(1_000 << FRACTION_BITS);

impl Fx {
    const fn int(n: i64) -> Fx {
        Fx((n as i128) << FRACTION_BITS)
    }

    /// `units / 10^decimals`, rounded.
    const fn decimal(units: i64, decimals: u32) -> Fx {
        let scale = 10i128.pow(decimals);
        Fx((((units as i128) << FRACTION_BITS) + scale / 2) / scale)
    }

    /// Rounded to `10^-decimals` units.
    fn to_decimal(self, decimals: u32) -> i64 {
        let scale = 10i128.pow(decimals);
        let half = 1i128 << (FRACTION_BITS - 1);
        let scaled = self.0 * scale;
        let rounded = if scaled >= 0 {
            (scaled + half) >> FRACTION_BITS
        } else {
            -((-scaled + half) >> FRACTION_BITS)
        };
        i64::try_from(rounded).expect("a rating fits in i64")
    }

    fn abs(self) -> Fx {
        Fx(self.0.abs())
    }

    fn square(self) -> Fx {
        self * self
    }

    fn sqrt(self) -> Fx {
        assert!(self.0 >= 0, "sqrt of a negative number");
        let root = ((self.0 as u128) << FRACTION_BITS).isqrt();
        Fx(root as i128)
    }

    /// e^x: x = k·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its Taylor series, then 2^k as
    /// a shift. Below −40 it is 0 at this precision; above 40 it is e^40 (the callers'
    /// arguments stay far below: a rating gap of 7 000 points, the volatility search's
    /// ln Δ² below 16).
    fn exp(self) -> Fx {
        if self < Fx::int(-40) {
            return Fx(0);
        }
        let x = self.min(Fx::int(40));
        let k = (x + Fx(LN2.0 / 2)).0.div_euclid(LN2.0);
        let r = x - Fx(k * LN2.0);
        let mut sum = ONE;
        let mut term = ONE;
        for n in 1..40 {
            term = term * r / Fx::int(n);
            if term.0 == 0 {
                break;
            }
            sum = sum + term;
        }
        if k >= 0 {
            Fx(sum.0 << k)
        } else {
            Fx(sum.0 >> -k)
        }
    }

    /// ln x for x > 0: x = m·2^k with m in [1, 2), ln m = 2·atanh((m − 1)/(m + 1)) by
    /// its series (the ratio is below 1/3, so it converges fast).
    fn ln(self) -> Fx {
        assert!(self.0 > 0, "ln of a non-positive number");
        let k = (127 - self.0.leading_zeros() as i128) - i128::from(FRACTION_BITS);
        let m = if k >= 0 {
            Fx(self.0 >> k)
        } else {
            Fx(self.0 << -k)
        };
        let z = (m - ONE) / (m + ONE);
        let z2 = z.square();
        let mut power = z;
        let mut sum = Fx(0);
        for n in (1..80).step_by(2) {
            let term = power / Fx::int(n);
            if term.0 == 0 {
                break;
            }
            sum = sum + term;
            power = power * z2;
        }
        Fx(2 * sum.0) + Fx(k * LN2.0)
    }
}

impl Add for Fx {
    type Output = Fx;
    fn add(self, other: Fx) -> Fx {
        Fx(self.0 + other.0)
    }
}

impl Sub for Fx {
    type Output = Fx;
    fn sub(self, other: Fx) -> Fx {
        Fx(self.0 - other.0)
    }
}

impl Neg for Fx {
    type Output = Fx;
    fn neg(self) -> Fx {
        Fx(-self.0)
    }
}

impl Mul for Fx {
    type Output = Fx;
    fn mul(self, other: Fx) -> Fx {
        Fx((self.0 * other.0) >> FRACTION_BITS)
    }
}

impl Div for Fx {
    type Output = Fx;
    fn div(self, other: Fx) -> Fx {
        Fx((self.0 << FRACTION_BITS) / other.0)
    }
}

/// A new player's rating, deviation and volatility (the deviation also bounds growth).
pub const RATING_DEFAULT: i64 = 1_000;
pub const DEVIATION_DEFAULT: i64 = 350;
const VOLATILITY_DEFAULT_MILLIONTHS: i64 = 60_000;
/// The anchor of Glicko-2's internal scale: μ = (rating − anchor) / 173.7178.
const ANCHOR: i64 = RATING_DEFAULT;
/// Idle days that grow a deviation, at most.
const IDLE_DAYS_MAX: i64 = 365;

/// A player's rating in one game, in thousandths of a point (rating and deviation) and
/// millionths (volatility), as the snapshot keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating {
    pub rating_milli: i64,
    pub deviation_milli: i64,
    pub volatility_micro: i64,
}

impl Default for Rating {
    fn default() -> Self {
        Rating {
            rating_milli: RATING_DEFAULT * 1_000,
            deviation_milli: DEVIATION_DEFAULT * 1_000,
            volatility_micro: VOLATILITY_DEFAULT_MILLIONTHS,
        }
    }
}

impl Rating {
    /// The rating to show, rounded to a whole point.
    pub fn points(&self) -> i64 {
        (self.rating_milli + 500).div_euclid(1_000)
    }

    fn mu(&self) -> Fx {
        (Fx::decimal(self.rating_milli, 3) - Fx::int(ANCHOR)) / SCALE
    }

    fn phi(&self) -> Fx {
        Fx::decimal(self.deviation_milli, 3) / SCALE
    }

    fn sigma(&self) -> Fx {
        Fx::decimal(self.volatility_micro, 6)
    }
}

/// A game's result for the player rated: their score against one opponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Score {
    Loss,
    Draw,
    Win,
}

impl Score {
    fn value(self) -> Fx {
        match self {
            Score::Loss => Fx(0),
            Score::Draw => Fx(ONE.0 / 2),
            Score::Win => ONE,
        }
    }
}

/// g(φ) = 1 / √(1 + 3φ²/π²): how much a result against an opponent of deviation φ says.
fn g(phi: Fx) -> Fx {
    ONE / (ONE + Fx::int(3) * phi.square() / PI_SQUARED).sqrt()
}

/// The expected score of μ against μj of deviation φj.
fn expected(mu: Fx, mu_j: Fx, g_j: Fx) -> Fx {
    ONE / (ONE + (-(g_j * (mu - mu_j))).exp())
}

/// The player's rating after one rating period against `opponents` (their ratings before
/// it), `idle_days` whole days after their previous rated game (0 for a newcomer).
pub fn rate(player: Rating, opponents: &[(Rating, Score)], idle_days: i64) -> Rating {
    let (mu, sigma) = (player.mu(), player.sigma());
    let phi_max = Fx::int(DEVIATION_DEFAULT) / SCALE;
    let idle = Fx::int(idle_days.clamp(0, IDLE_DAYS_MAX));
    let phi = (player.phi().square() + idle * sigma.square())
        .sqrt()
        .min(phi_max);
    if opponents.is_empty() {
        return from_internal(mu, phi, sigma);
    }
    // Steps 3 and 4: the estimated variance v and the improvement Δ.
    let mut inverse_v = Fx(0);
    let mut improvement = Fx(0);
    for (opponent, score) in opponents {
        let g_j = g(opponent.phi());
        let e = expected(mu, opponent.mu(), g_j);
        inverse_v = inverse_v + g_j.square() * e * (ONE - e);
        improvement = improvement + g_j * (score.value() - e);
    }
    // Expected scores at (or next to) 0 or 1: v is infinite in the limit (above
    // [`VARIANCE_MAX`] its 1/v changes φ' by under 0.5 %), so the volatility stays, the
    // deviation only grows by it, and a result against the odds moves the rating by
    // φ*² × g·(s − E) — Glickman's steps in the limit. This also keeps Δ² and e^x in the
    // volatility search within range of the fixed-point arithmetic.
    if inverse_v.0 == 0 || inverse_v < ONE / VARIANCE_MAX {
        let phi = (phi.square() + sigma.square()).sqrt().min(phi_max);
        return from_internal(mu + phi.square() * improvement, phi, sigma);
    }
    let v = ONE / inverse_v;
    let delta = v * improvement;
    // Step 5: the new volatility, by the Illinois algorithm on f.
    let a = sigma.square().ln();
    let tau_squared = TAU.square();
    // f(x) = e^x (Δ² − φ² − v − e^x) / 2(φ² + v + e^x)² − (x − a)/τ², divided before it
    // is multiplied so no intermediate grows past the fractions it is made of.
    let f = |x: Fx| {
        let ex = x.exp();
        let denominator = phi.square() + v + ex;
        let left = (ex / denominator) * ((delta.square() - phi.square() - v - ex) / denominator);
        Fx(left.0 / 2) - (x - a) / tau_squared
    };
    let mut big_a = a;
    let mut big_b = if delta.square() > phi.square() + v {
        (delta.square() - phi.square() - v).ln()
    } else {
        let mut k = 1;
        while f(a - Fx::int(k) * TAU) < Fx(0) && k < i64::from(ITERATIONS_MAX) {
            k += 1;
        }
        a - Fx::int(k) * TAU
    };
    let (mut f_a, mut f_b) = (f(big_a), f(big_b));
    let mut iterations = 0;
    while (big_b - big_a).abs() > EPSILON && iterations < ITERATIONS_MAX && f_b != f_a {
        let c = big_a + (big_a - big_b) * f_a / (f_b - f_a);
        let f_c = f(c);
        if (f_c.0 < 0) != (f_b.0 < 0) {
            (big_a, f_a) = (big_b, f_b);
        } else {
            f_a = Fx(f_a.0 / 2);
        }
        (big_b, f_b) = (c, f_c);
        iterations += 1;
    }
    let sigma = Fx(big_a.0 / 2).exp();
    // Steps 6 and 7: the new deviation and rating.
    let phi_star = (phi.square() + sigma.square()).sqrt();
    let phi = ONE / (ONE / phi_star.square() + ONE / v).sqrt();
    let mu = mu + phi.square() * improvement;
    from_internal(mu, phi.min(phi_max), sigma)
}

fn from_internal(mu: Fx, phi: Fx, sigma: Fx) -> Rating {
    Rating {
        rating_milli: (mu * SCALE + Fx::int(ANCHOR)).to_decimal(3),
        deviation_milli: (phi * SCALE).to_decimal(3),
        volatility_micro: sigma.to_decimal(6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(points: i64, deviation: i64) -> Rating {
        Rating {
            rating_milli: points * 1_000,
            deviation_milli: deviation * 1_000,
            volatility_micro: 60_000,
        }
    }

    #[test]
    fn fixed_point_functions() {
        // (x in millionths, e^x and ln(e^x) checked to 10⁻⁶ against values from a
        // calculator).
        let cases = [
            (0, 1_000_000),
            (1_000_000, 2_718_282),
            (-5_626_821, 3_600),
            (2_500_000, 12_182_494),
            (-1_000_000, 367_879),
        ];
        for (x, e) in cases {
            let x = Fx::decimal(x, 6);
            assert_eq!(x.exp().to_decimal(6), e, "exp {x:?}");
            if e > 100_000 {
                assert_eq!(x.exp().ln().to_decimal(6), x.to_decimal(6), "ln {x:?}");
            }
        }
        assert_eq!(Fx::int(2).sqrt().to_decimal(9), 1_414_213_562);
        assert_eq!(Fx::decimal(36, 4).ln().to_decimal(6), -5_626_821);
    }

    /// Glickman's worked example, moved to our scale (1500 → 1000): a 1500/200 player
    /// beats a 1400/30, loses to a 1550/100 and to a 1700/300. The paper, rounding its
    /// intermediate steps, ends at 1464.06 / 151.52 / 0.05999; computed without rounding
    /// (as floating-point implementations do) it is 1464.0507 / 151.5165 / 0.059996.
    #[test]
    fn glickman_example() {
        let player = rating(1_000, 200);
        let opponents = [
            (rating(900, 30), Score::Win),
            (rating(1_050, 100), Score::Loss),
            (rating(1_200, 300), Score::Loss),
        ];
        let after = rate(player, &opponents, 0);
        assert_eq!(after.rating_milli, 964_051, "{after:?}");
        assert!((after.deviation_milli - 151_517).abs() <= 1, "{after:?}");
        assert_eq!(after.volatility_micro, 59_996, "{after:?}");
    }

    #[test]
    fn newcomers_move_fast_and_draws_between_equals_move_nothing() {
        let new = Rating::default();
        let won = rate(new, &[(new, Score::Win)], 0);
        assert!(won.points() > 1_150 && won.points() < 1_200, "{won:?}");
        assert!(won.deviation_milli < new.deviation_milli);
        let lost = rate(new, &[(new, Score::Loss)], 0);
        assert_eq!(
            won.rating_milli - 1_000_000,
            1_000_000 - lost.rating_milli,
            "symmetric"
        );
        let drew = rate(new, &[(new, Score::Draw)], 0);
        assert_eq!(drew.points(), 1_000);
        // A regular (deviation 50) moves much less for the same win.
        let regular = rating(1_000, 50);
        let regular_won = rate(regular, &[(new, Score::Win)], 0);
        assert!(
            regular_won.rating_milli - 1_000_000 < 10_000,
            "{regular_won:?}"
        );
    }

    #[test]
    fn idleness_grows_the_deviation_up_to_a_newcomers() {
        let regular = rating(1_200, 50);
        let back = rate(regular, &[], 100);
        assert!(back.deviation_milli > 50_000 && back.deviation_milli < 350_000);
        assert_eq!(back.rating_milli, 1_200_000);
        let gone = rate(regular, &[], 10_000);
        assert!(gone.deviation_milli <= 350_000);
        assert!(rate(regular, &[], 1).deviation_milli > 50_000);
    }

    /// Every gap from even to 7 000 points, both ways, every result, newcomers and
    /// regulars: nothing overflows, and a win never lowers a rating nor a loss raises it.
    #[test]
    fn every_gap_and_result_stays_in_range() {
        for deviation in [30, 50, 110, 350] {
            for gap in (0..=7_000).step_by(50) {
                let low = rating(1_000, deviation);
                let high = rating(1_000 + gap, deviation);
                for (player, opponent) in [(low, high), (high, low)] {
                    let won = rate(player, &[(opponent, Score::Win)], 0);
                    let drew = rate(player, &[(opponent, Score::Draw)], 3);
                    let lost = rate(player, &[(opponent, Score::Loss)], 400);
                    assert!(won.rating_milli >= player.rating_milli, "{gap} {deviation}");
                    assert!(
                        lost.rating_milli <= player.rating_milli,
                        "{gap} {deviation}"
                    );
                    assert!(won.rating_milli >= drew.rating_milli);
                    for r in [won, drew, lost] {
                        assert!(r.deviation_milli > 0 && r.deviation_milli <= 350_000);
                        assert!(r.volatility_micro > 0 && r.volatility_micro < 1_000_000);
                    }
                }
            }
        }
        // A field of nine opponents at once (a quick-math session of ten).
        let field: Vec<(Rating, Score)> = (0..9)
            .map(|i| {
                (
                    rating(500 + 400 * i, 50),
                    [Score::Win, Score::Draw, Score::Loss][i as usize % 3],
                )
            })
            .collect();
        let rated = rate(rating(1_000, 50), &field, 0);
        assert!(
            rated.deviation_milli > 0 && rated.deviation_milli <= 350_000,
            "{rated:?}"
        );
    }

    #[test]
    fn extreme_gaps_stay_finite() {
        let top = rating(4_000, 30);
        let bottom = rating(100, 350);
        let upset = rate(bottom, &[(top, Score::Win)], 0);
        assert!(upset.rating_milli > bottom.rating_milli);
        let expected = rate(top, &[(bottom, Score::Win)], 0);
        assert!(expected.rating_milli >= top.rating_milli);
    }
}
