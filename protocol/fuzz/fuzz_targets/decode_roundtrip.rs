//! decode → encode → decode over every top-level message type.
//!
//! Whatever bytes decode must re-encode to exactly those bytes (one encoding per value) and
//! decode again to the same value; nothing may panic.

#![no_main]

use betbet_protocol::codec::{Decode, Encode, from_slice, to_vec};
use betbet_protocol::message::decode_frame;
use betbet_protocol::{ClientMessage, Command, Event, JournalEntry, ServerMessage};
use libfuzzer_sys::fuzz_target;

fn check<T: Encode + Decode + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(value) = from_slice::<T>(bytes) {
        let encoded = to_vec(&value);
        assert_eq!(encoded, bytes, "decode→encode changed the bytes");
        let again: T = from_slice(&encoded).expect("re-decodes");
        assert_eq!(again, value);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match selector % 6 {
        0 => check::<Command>(bytes),
        1 => check::<JournalEntry>(bytes),
        2 => check::<Event>(bytes),
        3 => check::<ClientMessage>(bytes),
        4 => check::<ServerMessage>(bytes),
        _ => {
            let _ = decode_frame::<ClientMessage>(bytes);
        }
    }
});
