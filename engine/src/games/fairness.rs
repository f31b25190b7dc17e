//! Provably fair randomness: the HMAC-SHA256 commit–reveal scheme of the crypto casinos
//! (docs/games.md). Pure functions: the same seeds give the same draws everywhere.

use betbet_protocol::games::SERVER_SEED_BYTES;
pub use betbet_protocol::games::hex;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The public commitment to a server seed: SHA-256 of its 64 hex characters.
pub fn seed_hash(seed: &[u8; SERVER_SEED_BYTES]) -> [u8; 32] {
    Sha256::digest(hex(seed).as_bytes()).into()
}

/// `HMAC_SHA256(key = the seed's hex text, message = "{client_seed}:{nonce}:{round}")`.
pub fn block(
    server_seed: &[u8; SERVER_SEED_BYTES],
    client_seed: &str,
    nonce: u64,
    round: u32,
) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(hex(server_seed).as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("{client_seed}:{nonce}:{round}").as_bytes());
    mac.finalize().into_bytes().into()
}

/// A uniform choice among `n` from a fraction `x` (f = x / 2^32): `floor(f × n)`, exactly.
pub fn pick(fraction: u32, n: u32) -> u32 {
    ((u64::from(fraction) * u64::from(n)) >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from Python's standard library:
    /// `python3 -c 'import hmac,hashlib; s=bytes(range(32)).hex(); print(hashlib.sha256(s.encode()).hexdigest()); print(hmac.new(s.encode(), b"alice|bob:0:0", hashlib.sha256).hexdigest())'`
    #[test]
    fn draws_match_an_independent_implementation() {
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            hex(&seed),
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        );
        assert_eq!(hex(&seed_hash(&seed)), PY_HASH);
        assert_eq!(hex(&block(&seed, "alice|bob", 0, 0)), PY_BLOCK);
    }

    const PY_HASH: &str = "6c86c6aac5fb24bcf5d9939cb7d7d5645ce39418f449e03b262dd4fa14b4b92b";
    const PY_BLOCK: &str = "50a6f9b11db734ef8e9ebfecf455909c6b07e2f50d05df5e9129428b116d108d";

    #[test]
    fn picks_stay_in_range() {
        assert_eq!(pick(0, 2), 0);
        assert_eq!(pick(u32::MAX, 2), 1);
        assert_eq!(pick(1 << 31, 2), 1);
        assert_eq!(pick((1 << 31) - 1, 2), 0);
        assert_eq!(pick(u32::MAX, 10), 9);
        assert_eq!(pick(12345, 0), 0);
    }
}
