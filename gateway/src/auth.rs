//! Authentication at the gateway: password hashing, access tokens, refresh tokens, TOTP
//! secrets and sealing of payment details.
//!
//! - Passwords: argon2id, m = 19 MiB, t = 2, p = 1 (OWASP's minimum), run on the blocking
//!   pool behind a semaphore so a burst of logins queues instead of exhausting memory, and
//!   never on the engine thread. Unknown users still cost one verification, so timing does
//!   not reveal which usernames exist.
//! - Access tokens: JWTs signed with HMAC-SHA256. The header is pinned byte for byte (no
//!   `alg: none`, no algorithm confusion); issuer, audience and a short expiry are checked;
//!   the `sid` claim ties the token to a session the core can revoke.
//! - Refresh tokens: 256 random bits; the core only ever sees their SHA-256.
//! - Payment details: sealed with ChaCha20-Poly1305 under a key in the secrets directory.

use crate::error::{ApiError, ApiResult};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use betbet_protocol::command::Role;
use betbet_protocol::types::{SessionId, UserId};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub const ISSUER: &str = "betbet";
pub const AUDIENCE: &str = "betbet-api";
/// `{"alg":"HS256","typ":"JWT"}`, base64url: the only header we issue or accept.
const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;
/// OWASP's argon2id floor: 19 MiB, two passes, one lane.
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const ARGON2_PASSES: u32 = 2;
/// How long a request may wait for a hashing slot before the gateway gives up.
const HASH_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes
}

/// The gateway's secret keys, created on first start with mode 0600.
pub struct Keys {
    jwt: [u8; 32],
    seal: ChaCha20Poly1305,
}

fn load_or_create_key(path: &Path) -> std::io::Result<[u8; 32]> {
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| std::io::Error::other(format!("{} is not a 32-byte key", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let key = random_bytes::<32>();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?;
            file.write_all(&key)?;
            file.sync_all()?;
            Ok(key)
        }
        Err(error) => Err(error),
    }
}

impl Keys {
    /// Checks that `dir` already holds both keys (a gateway of a split deployment must not
    /// make keys of its own that the others do not share).
    pub fn require(dir: &Path) -> std::io::Result<()> {
        for name in ["jwt.key", "seal.key"] {
            let path = dir.join(name);
            let len = std::fs::metadata(&path)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?
                .len();
            if len != 32 {
                return Err(std::io::Error::other(format!(
                    "{} is not a 32-byte key",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// Makes a deployment's shared keys in `dir`, which must not hold any yet.
    pub fn create(dir: &Path) -> std::io::Result<()> {
        for name in ["jwt.key", "seal.key"] {
            if dir.join(name).exists() {
                return Err(std::io::Error::other(format!(
                    "{} already exists",
                    dir.join(name).display()
                )));
            }
        }
        Keys::load(dir).map(|_| ())
    }

    pub fn load(dir: &Path) -> std::io::Result<Keys> {
        std::fs::create_dir_all(dir)?;
        let jwt = load_or_create_key(&dir.join("jwt.key"))?;
        let seal = load_or_create_key(&dir.join("seal.key"))?;
        Ok(Keys {
            jwt,
            seal: ChaCha20Poly1305::new((&seal).into()),
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.jwt).expect("HMAC takes any key")
    }

    /// Seals `plain` as nonce ‖ ciphertext.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let nonce = random_bytes::<12>();
        let mut out = nonce.to_vec();
        out.extend(
            self.seal
                .encrypt(Nonce::from_slice(&nonce), plain)
                .expect("ChaCha20-Poly1305 encrypts any length we send"),
        );
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ciphertext) = sealed.split_at_checked(12)?;
        self.seal.decrypt(Nonce::from_slice(nonce), ciphertext).ok()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: u64,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
}

pub fn issue_access_token(
    keys: &Keys,
    user: UserId,
    session: SessionId,
    role: Role,
    now_secs: i64,
    ttl: Duration,
) -> String {
    let claims = Claims {
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: crate::ids::PublicId::public(user),
        sid: session.0,
        role: role.as_str().to_owned(),
        iat: now_secs,
        exp: now_secs + ttl.as_secs() as i64,
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialize"));
    let signing_input = format!("{JWT_HEADER}.{payload}");
    let mut mac = keys.mac();
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Checks a token's header, signature, issuer, audience and expiry.
pub fn verify_access_token(
    keys: &Keys,
    token: &str,
    now_secs: i64,
) -> Result<Claims, &'static str> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed token");
    };
    if header != JWT_HEADER {
        return Err("unsupported token header");
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "malformed signature")?;
    let mut mac = keys.mac();
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.verify_slice(&signature).map_err(|_| "bad signature")?;
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("malformed claims")?;
    if claims.iss != ISSUER || claims.aud != AUDIENCE {
        return Err("token is for someone else");
    }
    if claims.exp <= now_secs {
        return Err("token expired");
    }
    if claims.iat > now_secs + 60 {
        return Err("token from the future");
    }
    Ok(claims)
}

/// A new refresh token and the hash the core stores.
pub fn new_refresh_token() -> (String, [u8; 32]) {
    let token = format!("rt_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
    let hash = refresh_hash(&token);
    (token, hash)
}

pub fn refresh_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// RFC 4648 base32 without padding, as authenticator apps expect in `otpauth://` URIs.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn otpauth_uri(username: &str, secret: &[u8]) -> String {
    let label: String = username
        .bytes()
        .map(|b| {
            // RFC 3986 unreserved characters stay; everything else is percent-encoded.
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!(
        "otpauth://totp/BetBet:{label}?secret={}&issuer=BetBet&algorithm=SHA1&digits=6&period=30",
        base32(secret)
    )
}

/// Argon2id on the blocking pool, at most `workers` at a time.
#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
    /// A valid hash to verify against when the user does not exist.
    decoy: Arc<String>,
}

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16-byte salt encodes");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password")
        .to_string()
}

impl PasswordHasherPool {
    pub fn new(workers: usize) -> Self {
        PasswordHasherPool {
            permits: Arc::new(Semaphore::new(workers.max(1))),
            decoy: Arc::new(hash_now("decoy password that nobody has")),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let permit = tokio::time::timeout(
            HASH_QUEUE_TIMEOUT,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await
        .map_err(|_| ApiError::from(betbet_protocol::result::ResultCode::Overloaded))?
        .map_err(|_| ApiError::internal("hashing pool closed"))?;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|_| ApiError::internal("password hashing failed"))?;
        Ok(result)
    }

    pub async fn hash(&self, password: String) -> ApiResult<String> {
        self.run(move || hash_now(&password)).await
    }

    /// Verifies against `hash`, or against a decoy when there is no user, so both take as
    /// long.
    pub async fn verify(&self, password: String, hash: Option<String>) -> ApiResult<bool> {
        let decoy = Arc::clone(&self.decoy);
        self.run(move || {
            let (stored, real) = match &hash {
                Some(hash) => (hash.as_str(), true),
                None => (decoy.as_str(), false),
            };
            let Ok(parsed) = PasswordHash::new(stored) else {
                return false;
            };
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                && real
        })
        .await
    }
}

pub fn check_password(password: &str) -> ApiResult<()> {
    let len = password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&len) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_password",
            format!("passwords are {PASSWORD_MIN} to {PASSWORD_MAX} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        // A directory of its own per call: tests run in parallel in one process.
        let suffix: String = random_bytes::<8>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dir = std::env::temp_dir().join(format!("betbet-keys-{}-{suffix}", std::process::id()));
        let keys = Keys::load(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        keys
    }

    #[test]
    fn tokens_verify_and_tampering_is_caught() {
        let keys = keys();
        let token = issue_access_token(
            &keys,
            UserId(7),
            SessionId(3),
            Role::User,
            1_000,
            Duration::from_secs(900),
        );
        let claims = verify_access_token(&keys, &token, 1_001).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sid), ("usr_7", 3));
        assert_eq!(
            verify_access_token(&keys, &token, 1_900),
            Err("token expired")
        );
        let mut parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        parts[0] = &none_header;
        assert_eq!(
            verify_access_token(&keys, &parts.join("."), 1_001),
            Err("unsupported token header")
        );
        let forged = token.replace("dXNyXzc", "dXNyXzg");
        assert!(verify_access_token(&keys, &forged, 1_001).is_err());
        assert_eq!(
            JWT_HEADER,
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#)
        );
    }

    #[test]
    fn sealing_round_trips_and_detects_tampering() {
        let keys = keys();
        let mut sealed = keys.seal(b"account 12345");
        assert_eq!(keys.open(&sealed).unwrap(), b"account 12345");
        sealed[14] ^= 1;
        assert!(keys.open(&sealed).is_none());
    }

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }
}
