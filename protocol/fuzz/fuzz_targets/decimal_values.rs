//! Decimal text as the JSON API reads it (amounts, prices, odds' prices, quantities): never
//! a panic, and a value that is accepted converts back to exactly the decimal it came from.

#![no_main]

use betbet_protocol::types::{Amount, Price, Qty, parse_decimal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(value) = parse_decimal(text) else {
        return;
    };
    if let Ok(amount) = Amount::from_decimal(value) {
        assert_eq!(amount.to_decimal(), value, "amount {text:?}");
    }
    if let Ok(amount) = Amount::from_decimal_positive(value) {
        assert!(amount.0 > 0);
    }
    if let Ok(price) = Price::from_decimal(value) {
        assert_eq!(price.to_decimal(), value, "price {text:?}");
        let _ = betbet_protocol::odds::odds_of(price);
    }
    if let Ok(qty) = Qty::from_decimal(value) {
        assert_eq!(qty.to_decimal(), value, "quantity {text:?}");
    }
});
