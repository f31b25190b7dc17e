//! RFC 6238 time-based one-time passwords (HMAC-SHA1, 6 digits, 30-second steps).
//!
//! The engine checks codes itself because it alone knows which steps a user already spent:
//! a code is accepted at most once, so a code seen over someone's shoulder is worthless
//! after its owner used it. Time comes from the command's stamp, so replay agrees.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

pub const STEP_SECONDS: i64 = 30;
/// Steps either side of now that still count, for clocks that drift.
pub const SKEW_STEPS: i64 = 1;
pub const DIGITS_MODULUS: u32 = 1_000_000;

/// The RFC 4226 code of `secret` at counter `step`.
pub fn code_at(secret: &[u8], step: u64) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let bits = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    bits % DIGITS_MODULUS
}

pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The step within the skew window whose code is `code`, if any.
pub fn matching_step(secret: &[u8], code: u32, unix_seconds: i64) -> Option<i64> {
    let now = step_of(unix_seconds);
    (now - SKEW_STEPS..=now + SKEW_STEPS)
        .filter(|&step| step >= 0)
        .find(|&step| code_at(secret, step as u64) == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 seed, last six digits of the eight-digit values.
        let secret = b"12345678901234567890";
        let vectors = [
            (59, 287_082),
            (1_111_111_109, 81_804),
            (1_111_111_111, 50_471),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
        ];
        for (time, expected) in vectors {
            assert_eq!(code_at(secret, step_of(time) as u64), expected, "t={time}");
        }
    }

    #[test]
    fn skew_window() {
        let secret = b"12345678901234567890";
        let code = code_at(secret, step_of(1_000_000) as u64);
        assert_eq!(
            matching_step(secret, code, 1_000_000),
            Some(step_of(1_000_000))
        );
        assert_eq!(
            matching_step(secret, code, 1_000_000 + 30),
            Some(step_of(1_000_000))
        );
        assert_eq!(matching_step(secret, code, 1_000_000 + 90), None);
    }
}
