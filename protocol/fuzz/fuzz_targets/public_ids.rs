//! Public ids (`usr_42`, `ord_7`, …) over any text: never a panic, and an accepted id writes
//! and reads back as itself.

#![no_main]

use betbet_protocol::ids::PublicId;
use betbet_protocol::types::{MarketId, OrderId, PoolId, TxId, UserId};
use libfuzzer_sys::fuzz_target;

fn check<T: PublicId + PartialEq + std::fmt::Debug>(text: &str) {
    if let Some(id) = T::parse(text) {
        assert_eq!(T::parse(&id.public()), Some(id), "{text:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check::<UserId>(text);
    check::<MarketId>(text);
    check::<OrderId>(text);
    check::<PoolId>(text);
    check::<TxId>(text);
});
