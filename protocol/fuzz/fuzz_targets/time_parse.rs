//! `time::parse` over any text: never a panic, and whatever it accepts formats and parses
//! back to the same instant.

#![no_main]

use betbet_protocol::time;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(at) = time::parse(text) {
        let written = time::format(at);
        assert_eq!(time::parse(&written), Some(at), "{text:?} → {written}");
    }
});
