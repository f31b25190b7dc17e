//! The deterministic workload of the `betbet-journal-stress` binary, shared with the
//! process-kill test so the test can check every record's bytes from its seq alone.
//!
//! Not part of the journal's API; it lives in the library only because a binary and an
//! integration test cannot share code any other way.

use crate::journal::{Durability, Options};

/// Segment size the stress binary uses: small, so rotation and pruning happen often.
pub const SEGMENT_BYTES: u64 = 256 << 10;
/// Largest payload the stress workload writes.
pub const PAYLOAD_BYTES_MAX: usize = 2048;

/// The options the stress binary opens its journal with.
pub fn options() -> Options {
    Options {
        durability: Durability::Batch,
        segment_bytes: SEGMENT_BYTES,
        snapshots_retained: 2,
    }
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fill(seed: u64, len: usize, out: &mut Vec<u8>) {
    out.clear();
    let mut state = seed;
    while out.len() < len {
        state = mix(state);
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&state.to_le_bytes()[..take]);
    }
}

/// The payload of record `seq`: 1 to [`PAYLOAD_BYTES_MAX`] bytes, all derived from `seq`.
pub fn payload(seq: u64, out: &mut Vec<u8>) {
    let len = 1 + (mix(seq ^ 0x5eed) % PAYLOAD_BYTES_MAX as u64) as usize;
    fill(seq, len, out);
}

/// The snapshot state written for `seq`.
pub fn snapshot_state(seq: u64) -> Vec<u8> {
    let mut out = Vec::new();
    fill(!seq, 64 + (seq % 512) as usize, &mut out);
    out[..8].copy_from_slice(&seq.to_le_bytes());
    out
}
