//! Back / lay views of a prediction-market price, in one place.
//!
//! Backing an outcome at decimal odds `o` is buying its YES share at `1 / o`; laying it at `o`
//! is selling YES at `1 / o`. Odds and prices rarely land on each other's grids exactly, so the
//! conversion rounds — always in the bettor's favour, so they never get worse odds than they
//! asked for: a back order's price rounds *down* to the tick grid (lower price = longer odds),
//! a lay order's price rounds *up* (the layer's liability per unit of stake shrinks).
//!
//! Every gateway (REST, WebSocket, QUIC) goes through these functions so all of them show and
//! accept the same numbers.

use crate::command::TickSize;
use crate::types::{PRICE_DECIMALS, PRICE_SCALE, Price, ValueError};
use rust_decimal::Decimal;

/// Decimal places of odds, as in the spec's `DECIMAL(10, 4)`.
pub const ODDS_DECIMALS: u32 = 4;

/// Odds as an integer count of 10^-4, refusing anything not strictly above 1.
fn odds_units(odds: Decimal) -> Result<u64, ValueError> {
    let odds = odds.normalize();
    if odds.scale() > ODDS_DECIMALS {
        return Err(ValueError::TooPrecise {
            what: "odds",
            max_decimals: ODDS_DECIMALS,
        });
    }
    let units = odds.mantissa() * 10i128.pow(ODDS_DECIMALS - odds.scale());
    // Odds of exactly 1 would be a price of 1 (a certainty), which no market trades.
    if units <= 10_000 || units > 10_000 * 10_000 {
        return Err(ValueError::OutOfRange { what: "odds" });
    }
    Ok(units as u64)
}

/// 1 / odds as a price in 10^-4 units, before rounding to a tick: `10^8 / odds_units` with the
/// remainder so callers can round either way.
fn inverse(odds: Decimal) -> Result<(u64, u64), ValueError> {
    let units = odds_units(odds)?;
    let numerator = u64::from(PRICE_SCALE) * 10_000;
    Ok((numerator / units, numerator % units))
}

/// The price of a back order at `odds`: rounded down to the tick grid.
pub fn back_price(odds: Decimal, tick: TickSize) -> Result<Price, ValueError> {
    let (quotient, _) = inverse(odds)?;
    let tick = u64::from(tick.units());
    let price = quotient / tick * tick;
    if price == 0 {
        return Err(ValueError::OutOfRange { what: "odds" });
    }
    Ok(Price(price as u32))
}

/// The price of a lay order at `odds`: rounded up to the tick grid.
pub fn lay_price(odds: Decimal, tick: TickSize) -> Result<Price, ValueError> {
    let (quotient, remainder) = inverse(odds)?;
    let tick = u64::from(tick.units());
    let exact = quotient + u64::from(remainder != 0);
    let price = exact.div_ceil(tick) * tick;
    if price >= u64::from(PRICE_SCALE) {
        return Err(ValueError::OutOfRange { what: "odds" });
    }
    Ok(Price(price as u32))
}

/// The decimal odds a price shows as, rounded half up to 4 places.
pub fn odds_of(price: Price) -> Decimal {
    assert!(price.is_valid(), "odds of an invalid price {price:?}");
    let numerator = u64::from(PRICE_SCALE) * 10_000;
    let price = u64::from(price.0);
    // Half up: (2n / p + 1) / 2 == ceil of the doubled quotient over two.
    let units = (2 * numerator / price).div_ceil(2);
    Decimal::new(units as i64, ODDS_DECIMALS)
}

/// The implied probability of a price, as a decimal (for display).
pub fn probability_of(price: Price) -> Decimal {
    Decimal::new(i64::from(price.0), PRICE_DECIMALS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn conversions_favour_the_bettor() {
        // (odds, tick, back price, lay price)
        let cases = [
            ("2", TickSize::Cent, 5000, 5000),
            ("2.5", TickSize::Cent, 4000, 4000),
            ("3", TickSize::Cent, 3300, 3400),
            ("3", TickSize::TenThousandth, 3333, 3334),
            ("1.25", TickSize::Cent, 8000, 8000),
            ("1.5", TickSize::Mill, 6660, 6670),
        ];
        for (odds, tick, back, lay) in cases {
            assert_eq!(back_price(dec(odds), tick), Ok(Price(back)), "back {odds}");
            assert_eq!(lay_price(dec(odds), tick), Ok(Price(lay)), "lay {odds}");
        }
    }

    #[test]
    fn back_price_never_gives_shorter_odds() {
        for units in 10_001..12_000u64 {
            let odds = Decimal::new(units as i64, 4);
            if let Ok(price) = back_price(odds, TickSize::TenThousandth) {
                assert!(u64::from(price.0) * units <= 100_000_000);
            }
            if let Ok(price) = lay_price(odds, TickSize::TenThousandth) {
                assert!(u64::from(price.0) * units >= 100_000_000);
            }
        }
    }

    #[test]
    fn invalid_odds_are_refused() {
        for bad in ["1", "0.5", "-2", "1.00001", "100000"] {
            assert!(back_price(dec(bad), TickSize::Cent).is_err(), "{bad}");
        }
        // 1/1.001 rounds up to 1.0, which is not a tradable price.
        assert!(lay_price(dec("1.001"), TickSize::Cent).is_err());
    }

    #[test]
    fn odds_display() {
        assert_eq!(odds_of(Price(5000)), dec("2"));
        assert_eq!(odds_of(Price(3300)), dec("3.0303"));
        assert_eq!(odds_of(Price(1)), dec("10000"));
    }
}
