//! Paying a tournament's prize pool by its distribution.
//!
//! The distribution gives each paid place its share of the pool in basis points (50/30/20
//! is `[5000, 3000, 2000]`): non-increasing, summing to 10 000. Place q's prize is
//! `pool × share_q / 10 000`, rounded down. Entrants tied over places p .. p + t − 1 (the
//! standings give them all place p) split those t places' prizes equally. The units no
//! division gives out (fewer than the number of places and ties) go to the platform, so
//! the payouts and that rest add up to the pool exactly.

/// The most paid places.
pub const PLACES_MAX: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistributionError {
    /// Empty, too long, a zero or rising share, or shares not summing to 10 000.
    Invalid,
}

/// Checks a distribution: 1 to [`PLACES_MAX`] shares, each positive and none above the one
/// before, summing to 10 000 basis points.
pub fn check_distribution(shares_bp: &[u16]) -> Result<(), DistributionError> {
    let valid = !shares_bp.is_empty()
        && shares_bp.len() <= PLACES_MAX
        && shares_bp.iter().all(|&s| s > 0)
        && shares_bp.windows(2).all(|w| w[0] >= w[1])
        && shares_bp.iter().map(|&s| u32::from(s)).sum::<u32>() == 10_000;
    if valid {
        Ok(())
    } else {
        Err(DistributionError::Invalid)
    }
}

/// Each entrant's prize, in the order of `places` (each entrant's 1-based place, tied
/// entrants sharing one), and the rest that goes to the platform.
pub fn distribute(pool: i64, shares_bp: &[u16], places: &[u16]) -> (Vec<i64>, i64) {
    assert!(pool >= 0, "a pool is never negative");
    let prize = |place: usize| -> i64 {
        shares_bp.get(place - 1).map_or(0, |&share| {
            (i128::from(pool) * i128::from(share) / 10_000) as i64
        })
    };
    let payouts: Vec<i64> = places
        .iter()
        .map(|&place| {
            let place = usize::from(place);
            let tied = places.iter().filter(|&&p| usize::from(p) == place).count();
            let prizes: i64 = (place..place + tied).map(prize).sum();
            prizes / tied as i64
        })
        .collect();
    let rest = pool - payouts.iter().sum::<i64>();
    assert!(rest >= 0, "prizes never exceed the pool");
    (payouts, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions() {
        assert!(check_distribution(&[5_000, 3_000, 2_000]).is_ok());
        assert!(check_distribution(&[10_000]).is_ok());
        assert!(check_distribution(&[]).is_err());
        assert!(
            check_distribution(&[3_000, 5_000, 2_000]).is_err(),
            "rising"
        );
        assert!(
            check_distribution(&[5_000, 3_000]).is_err(),
            "short of 100 %"
        );
        assert!(check_distribution(&[10_000, 0]).is_err(), "a zero share");
        assert!(check_distribution(&[1; 33]).is_err());
    }

    /// (pool, shares, places) → (payouts, rest).
    #[test]
    fn payouts_are_exact() {
        let check = |pool: i64, shares: &[u16], places: &[u16], expected: &[i64], rest: i64| {
            let (payouts, left) = distribute(pool, shares, places);
            assert_eq!(payouts, expected, "{pool} {shares:?} {places:?}");
            assert_eq!(left, rest);
            assert_eq!(payouts.iter().sum::<i64>() + left, pool);
        };
        let top3 = [5_000, 3_000, 2_000];
        check(1_000, &top3, &[1, 2, 3, 4], &[500, 300, 200, 0], 0);
        // Two tied for third of four split the third and fourth prizes (200 + 0).
        check(1_000, &top3, &[1, 2, 3, 3], &[500, 300, 100, 100], 0);
        // Three tied for first share all three prizes; 1 000 / 3 leaves 1 unit.
        check(1_000, &top3, &[1, 1, 1, 4], &[333, 333, 333, 0], 1);
        // Rounding down each place: 101 × 50 % = 50, × 30 % = 30, × 20 % = 20.
        check(101, &top3, &[1, 2, 3], &[50, 30, 20], 1);
        // Tied for second over the second and third: (300 + 200) / 2.
        check(1_000, &top3, &[2, 1, 2], &[250, 500, 250], 0);
        check(0, &top3, &[1, 2], &[0, 0], 0);
        check(999_999_999, &[10_000], &[1, 2], &[999_999_999, 0], 0);
    }
}
