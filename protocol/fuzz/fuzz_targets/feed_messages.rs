//! The market makers' QUIC feed messages: whatever bytes decode re-encode to exactly those
//! bytes and decode again to the same value; nothing may panic.

#![no_main]

use betbet_protocol::codec::{Decode, Encode, from_slice, to_vec};
use betbet_protocol::feed::{FeedData, FeedReply, FeedRequest};
use libfuzzer_sys::fuzz_target;

fn check<T: Encode + Decode + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(value) = from_slice::<T>(bytes) {
        let encoded = to_vec(&value);
        assert_eq!(encoded, bytes, "decode→encode changed the bytes");
        assert_eq!(from_slice::<T>(&encoded).expect("re-decodes"), value);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => check::<FeedRequest>(bytes),
        1 => check::<FeedReply>(bytes),
        _ => check::<FeedData>(bytes),
    }
});
