//! Users, sessions, two-factor authentication, profiles and KYC.
//!
//! Passwords are hashed by the gateway (argon2id is deliberately slow and must not run on
//! the engine thread); the core stores the PHC string and hands it back for verification.
//! Refresh tokens never reach the core either, only their SHA-256: a journal or snapshot
//! leak does not hand out sessions.
//!
//! A session is one login on one device. Its refresh token rotates on every use; the hashes
//! of rotated-away tokens are remembered (a bounded number per session) so that presenting
//! one again — which only a thief holding a copy would do — revokes the session.

use crate::accounts::totp;
use crate::{Ctx, Engine, done, text};
use betbet_protocol::command::{
    BeginTwoFa, DecideKyc, KycStatus, OpenSession, RefreshSession, RegisterUser, RevokeSession,
    Role, SetUserRole, SetUserStatus, SubmitKyc, UpdateProfile, UserStatus, VerifyTwoFa,
};
use betbet_protocol::event::{
    Event, KycDecided, SessionOpened, SessionRevoked, UserChanged, UserRegistered,
};
use betbet_protocol::message::{Created, Reply, SessionReply, UserRegisteredReply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{AccountId, Currency, KycDocumentId, SessionId, Timestamp, UserId};
use rustc_hash::FxHashMap;
use std::collections::{BTreeSet, VecDeque};

/// Rotated-away refresh-token hashes remembered per session for reuse detection.
const RETIRED_TOKENS_PER_SESSION: usize = 64;
/// Length of generated referral codes.
const REFERRAL_CODE_LEN: usize = 8;
/// Referral code alphabet: no 0/O or 1/I, so codes read aloud survive.
const REFERRAL_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// The default skill rating of a new profile, as in the spec.
const SKILL_RATING_DEFAULT: i32 = 1000;
/// KYC documents of one user awaiting review at once.
pub const KYC_PENDING_PER_USER_MAX: usize = 3;
/// Bytes of uploaded files one user may have stored (every KYC document they submitted;
/// later uploads count against the same quota).
pub const UPLOAD_BYTES_PER_USER_MAX: u64 = 50 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub display_name: String,
    pub avatar_url: String,
    pub bio: String,
    pub country_code: String,
    pub timezone: String,
    pub language: String,
    pub skill_rating: i32,
    pub verified_expert: bool,
    pub settings: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TwoFa {
    pub secret: Option<[u8; 20]>,
    pub enabled: bool,
    /// The last time step whose code was accepted; codes of this step or earlier are spent.
    pub last_step: i64,
}

/// Running totals for the stats route, kept as trades and settlements happen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserStats {
    /// Collateral paid into markets.
    pub total_wagered: i64,
    /// Realized profit and loss: sells, merges, settlement payouts net of fees.
    pub total_earnings: i64,
    pub orders_placed: u64,
    pub trades: u64,
    pub markets_traded: u32,
    pub markets_won: u32,
    pub markets_lost: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub status: UserStatus,
    pub kyc_level: u8,
    pub referral_code: String,
    pub referred_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_login: Option<Timestamp>,
    pub two_fa: TwoFa,
    pub profile: Profile,
    /// Live sessions, oldest first.
    pub sessions: Vec<SessionId>,
    pub kyc_documents: Vec<KycDocumentId>,
    pub payment_methods: Vec<betbet_protocol::types::PaymentMethodId>,
    /// Wallets in creation order; the first is the default.
    pub wallets: Vec<(Currency, AccountId)>,
}

impl User {
    pub fn wallet(&self, currency: Currency) -> Option<AccountId> {
        self.wallets
            .iter()
            .find(|(c, _)| *c == currency)
            .map(|&(_, id)| id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user: UserId,
    pub refresh_hash: [u8; 32],
    pub retired: VecDeque<[u8; 32]>,
    pub created_at: Timestamp,
    pub refreshed_at: Timestamp,
    pub expires_at: Timestamp,
    pub device_info: String,
    pub ip_address: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KycDocument {
    pub id: KycDocumentId,
    pub user: UserId,
    pub document_type: String,
    pub document_url: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: [u8; 32],
    pub status: KycStatus,
    pub submitted_at: Timestamp,
    pub verified_at: Option<Timestamp>,
    pub verified_by: Option<UserId>,
    pub kyc_level: u8,
    pub notes: String,
}

/// The part of a user that every order reads or writes, one cache line per user in a dense
/// array beside the (much larger) [`User`] records, so a trading user's line stays in cache.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[repr(C, align(64))]
pub struct UserTrading {
    pub stats: UserStats,
    pub wallet: WalletCache,
}

const _: () = assert!(std::mem::size_of::<UserTrading>() == 64);

/// What placing an order needs to know about its user: its wallet in the currency it last
/// traded, present only while the user is active. A cache derived from [`User`]: filled by an
/// order that found the user active, dropped whenever the user's status changes; wallets are
/// never closed or replaced, so a filled entry stays right. Not state: it encodes to nothing,
/// decodes empty and compares equal whatever it holds, so it cannot make equal states hash
/// or compare differently.
#[derive(Debug, Clone, Copy, Default)]
pub struct WalletCache {
    currency: Option<Currency>,
    account: u32,
}

impl PartialEq for WalletCache {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for WalletCache {}

impl WalletCache {
    /// The wallet in `currency` of an active user, if cached.
    #[inline]
    pub fn get(&self, currency: Currency) -> Option<AccountId> {
        (self.currency == Some(currency)).then_some(AccountId(u64::from(self.account)))
    }

    /// Caches the wallet of a user found active.
    pub fn fill(&mut self, currency: Currency, account: AccountId) {
        if let Ok(compact) = u32::try_from(account.0) {
            *self = WalletCache {
                currency: Some(currency),
                account: compact,
            };
        }
    }

    pub fn clear(&mut self) {
        *self = WalletCache::default();
    }

    /// Asserts the cache agrees with its user.
    pub fn check(&self, user: &User) {
        if let Some(currency) = self.currency {
            assert_eq!(
                user.status,
                UserStatus::Active,
                "cached wallet of an inactive user"
            );
            assert_eq!(
                user.wallet(currency),
                Some(AccountId(u64::from(self.account)))
            );
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Users {
    /// `users[i]` has id `i + 1`.
    pub users: Vec<User>,
    /// `trading[i]` belongs to `users[i]`.
    pub trading: Vec<UserTrading>,
    pub by_username: FxHashMap<String, UserId>,
    pub by_email: FxHashMap<String, UserId>,
    pub by_referral: FxHashMap<String, UserId>,
    pub sessions: FxHashMap<SessionId, Session>,
    pub by_refresh: FxHashMap<[u8; 32], SessionId>,
    pub retired_refresh: FxHashMap<[u8; 32], SessionId>,
    pub session_expiry: BTreeSet<(Timestamp, SessionId)>,
    pub next_session: u64,
    pub kyc_documents: Vec<KycDocument>,
}

impl Users {
    pub fn get(&self, id: UserId) -> Option<&User> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.users.get(index)
    }

    pub fn get_mut(&mut self, id: UserId) -> Option<&mut User> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.users.get_mut(index)
    }

    #[inline]
    pub fn trading(&self, id: UserId) -> Option<&UserTrading> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.trading.get(index)
    }

    #[inline]
    pub fn trading_mut(&mut self, id: UserId) -> Option<&mut UserTrading> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.trading.get_mut(index)
    }

    #[inline]
    pub fn stats_mut(&mut self, id: UserId) -> Option<&mut UserStats> {
        Some(&mut self.trading_mut(id)?.stats)
    }

    /// Asserts the per-user arrays line up and the caches agree with their users.
    pub fn check(&self) {
        assert_eq!(self.users.len(), self.trading.len());
        for (user, trading) in self.users.iter().zip(&self.trading) {
            trading.wallet.check(user);
        }
    }

    pub fn find_login(&self, name_or_email: &str) -> Option<&User> {
        let key = name_or_email.to_ascii_lowercase();
        let id = self
            .by_username
            .get(&key)
            .or_else(|| self.by_email.get(&key))?;
        self.get(*id)
    }

    pub fn find_username(&self, name: &str) -> Option<&User> {
        self.get(*self.by_username.get(&name.to_ascii_lowercase())?)
    }

    pub fn kyc_document(&self, id: KycDocumentId) -> Option<&KycDocument> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.kyc_documents.get(index)
    }
}

/// A referral code derived from the command's seed; `attempt` varies it on a collision.
fn referral_code(seed: u64, attempt: u64) -> String {
    // SplitMix64 step: a well-mixed value from (seed, attempt) without a RNG dependency.
    let mut x = seed.wrapping_add(attempt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (0..REFERRAL_CODE_LEN)
        .map(|i| REFERRAL_ALPHABET[((x >> (i * 5)) & 31) as usize] as char)
        .collect()
}

impl Engine {
    pub(crate) fn register_user(
        &mut self,
        c: &RegisterUser,
        ctx: &Ctx,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        text::username(&c.username)?;
        text::email(&c.email)?;
        text::line(&c.password_hash, text::PASSWORD_HASH_MAX)?;
        if self.users.users.len() >= self.limits.users_max as usize {
            return Err(ResultCode::TooManyUsers);
        }
        let username_key = c.username.to_ascii_lowercase();
        let email_key = c.email.to_ascii_lowercase();
        if self.users.by_username.contains_key(&username_key) {
            return Err(ResultCode::UsernameTaken);
        }
        if self.users.by_email.contains_key(&email_key) {
            return Err(ResultCode::EmailTaken);
        }
        let referred_by = match &c.referral_code {
            None => None,
            Some(code) if code.len() > text::REFERRAL_CODE_MAX => {
                return Err(ResultCode::InvalidReferralCode);
            }
            Some(code) => Some(
                *self
                    .users
                    .by_referral
                    .get(&code.to_ascii_uppercase())
                    .ok_or(ResultCode::InvalidReferralCode)?,
            ),
        };
        let code = (0..)
            .map(|attempt| referral_code(ctx.seed, attempt))
            .find(|code| !self.users.by_referral.contains_key(code))
            .expect("referral code space is far larger than the user limit");

        let id = UserId(self.users.users.len() as u64 + 1);
        self.users.users.push(User {
            id,
            username: c.username.clone(),
            email: c.email.clone(),
            password_hash: c.password_hash.clone(),
            role: Role::User,
            status: UserStatus::Active,
            kyc_level: 0,
            referral_code: code.clone(),
            referred_by,
            created_at: self.now,
            updated_at: self.now,
            last_login: None,
            two_fa: TwoFa::default(),
            profile: Profile {
                skill_rating: SKILL_RATING_DEFAULT,
                language: "en".to_owned(),
                ..Profile::default()
            },
            sessions: Vec::new(),
            kyc_documents: Vec::new(),
            payment_methods: Vec::new(),
            wallets: Vec::new(),
        });
        self.users.trading.push(UserTrading::default());
        self.users.by_username.insert(username_key, id);
        self.users.by_email.insert(email_key, id);
        self.users.by_referral.insert(code.clone(), id);
        out.push(Event::UserRegistered(UserRegistered {
            user: id,
            username: c.username.clone(),
            referred_by,
        }));
        Ok(Reply::UserRegistered(UserRegisteredReply {
            user: id,
            referral_code: code,
        }))
    }

    /// Admin-only, except that the system may promote the first admin at start-up.
    pub(crate) fn set_user_role(
        &mut self,
        c: &SetUserRole,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if c.actor != UserId::SYSTEM && !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        let now = self.now;
        let user = self.users.get_mut(c.user).ok_or(ResultCode::UserNotFound)?;
        user.role = c.role;
        user.updated_at = now;
        out.push(Event::UserChanged(UserChanged { user: c.user }));
        Ok(done())
    }

    pub(crate) fn set_user_status(
        &mut self,
        c: &SetUserStatus,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if c.actor != UserId::SYSTEM && !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        let now = self.now;
        // The status is cached with the user's wallet for placing orders: drop it.
        self.users
            .trading_mut(c.user)
            .ok_or(ResultCode::UserNotFound)?
            .wallet
            .clear();
        let user = self.users.get_mut(c.user).ok_or(ResultCode::UserNotFound)?;
        user.status = c.status;
        user.updated_at = now;
        out.push(Event::UserChanged(UserChanged { user: c.user }));
        if c.status == UserStatus::Suspended {
            let sessions = std::mem::take(&mut user.sessions);
            for session in sessions {
                self.drop_session(session, out);
            }
        }
        Ok(done())
    }

    /// Checks a two-factor code for `user` and spends its step.
    fn accept_code(&mut self, user: UserId, code: u32) -> Result<(), ResultCode> {
        let now_secs = self.now.as_secs();
        let user = self.users.get_mut(user).ok_or(ResultCode::UserNotFound)?;
        let secret = user.two_fa.secret.ok_or(ResultCode::TwoFaNotSetUp)?;
        let step =
            totp::matching_step(&secret, code, now_secs).ok_or(ResultCode::InvalidTwoFaCode)?;
        if step <= user.two_fa.last_step {
            return Err(ResultCode::TwoFaCodeReused);
        }
        user.two_fa.last_step = step;
        Ok(())
    }

    pub(crate) fn open_session(
        &mut self,
        c: &OpenSession,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        text::optional_line(&c.device_info, text::DEVICE_INFO_MAX)?;
        text::optional_line(&c.ip_address, text::IP_ADDRESS_MAX)?;
        if c.expires_at <= self.now {
            return Err(ResultCode::InvalidTime);
        }
        let user = self.users.get(c.user).ok_or(ResultCode::UserNotFound)?;
        if user.status == UserStatus::Suspended {
            return Err(ResultCode::AccountSuspended);
        }
        if self.users.by_refresh.contains_key(&c.refresh_hash)
            || self.users.retired_refresh.contains_key(&c.refresh_hash)
        {
            // The gateway draws 256 random bits per token; a repeat is a gateway bug.
            return Err(ResultCode::InvalidRequest);
        }
        let evict = user.sessions.len() >= self.limits.sessions_per_user_max as usize;
        if !evict && self.users.sessions.len() >= self.limits.sessions_max as usize {
            return Err(ResultCode::TooManySessions);
        }
        if user.two_fa.enabled {
            let code = c.two_fa_code.ok_or(ResultCode::TwoFaRequired)?;
            self.accept_code(c.user, code)?;
        }
        if evict {
            // The oldest login on this account makes room for the new one.
            let oldest = self.users.get(c.user).expect("checked").sessions[0];
            self.drop_session(oldest, out);
        }
        self.users.next_session += 1;
        let id = SessionId(self.users.next_session);
        let now = self.now;
        self.users.sessions.insert(
            id,
            Session {
                id,
                user: c.user,
                refresh_hash: c.refresh_hash,
                retired: VecDeque::new(),
                created_at: now,
                refreshed_at: now,
                expires_at: c.expires_at,
                device_info: c.device_info.clone(),
                ip_address: c.ip_address.clone(),
            },
        );
        self.users.by_refresh.insert(c.refresh_hash, id);
        self.users.session_expiry.insert((c.expires_at, id));
        let user = self.users.get_mut(c.user).expect("checked");
        user.sessions.push(id);
        user.last_login = Some(now);
        out.push(Event::SessionOpened(SessionOpened {
            session: id,
            user: c.user,
            family: id,
            expires_at: c.expires_at,
        }));
        Ok(Reply::Session(SessionReply {
            session: id,
            user: c.user,
            family: id,
        }))
    }

    pub(crate) fn refresh_session(
        &mut self,
        c: &RefreshSession,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if let Some(&stolen) = self.users.retired_refresh.get(&c.presented_hash) {
            self.drop_session(stolen, out);
            return Err(ResultCode::RefreshTokenReused);
        }
        let id = *self
            .users
            .by_refresh
            .get(&c.presented_hash)
            .ok_or(ResultCode::SessionNotFound)?;
        let session = &self.users.sessions[&id];
        if session.expires_at <= self.now {
            return Err(ResultCode::SessionExpired);
        }
        if c.expires_at <= self.now {
            return Err(ResultCode::InvalidTime);
        }
        if self.users.by_refresh.contains_key(&c.next_hash)
            || self.users.retired_refresh.contains_key(&c.next_hash)
        {
            return Err(ResultCode::InvalidRequest);
        }
        let user = session.user;
        if self
            .users
            .get(user)
            .is_some_and(|u| u.status == UserStatus::Suspended)
        {
            return Err(ResultCode::AccountSuspended);
        }
        let now = self.now;
        let session = self.users.sessions.get_mut(&id).expect("indexed");
        let old_expiry = session.expires_at;
        let old_hash = std::mem::replace(&mut session.refresh_hash, c.next_hash);
        session.retired.push_back(old_hash);
        let forgotten = if session.retired.len() > RETIRED_TOKENS_PER_SESSION {
            session.retired.pop_front()
        } else {
            None
        };
        session.refreshed_at = now;
        session.expires_at = c.expires_at;
        self.users.by_refresh.remove(&old_hash);
        self.users.by_refresh.insert(c.next_hash, id);
        self.users.retired_refresh.insert(old_hash, id);
        if let Some(forgotten) = forgotten {
            self.users.retired_refresh.remove(&forgotten);
        }
        self.users.session_expiry.remove(&(old_expiry, id));
        self.users.session_expiry.insert((c.expires_at, id));
        Ok(Reply::Session(SessionReply {
            session: id,
            user,
            family: id,
        }))
    }

    pub(crate) fn revoke_session(
        &mut self,
        c: &RevokeSession,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let session = self
            .users
            .sessions
            .get(&c.session)
            .ok_or(ResultCode::SessionNotFound)?;
        if session.user != c.actor && !self.is_admin(c.actor) {
            // Someone else's session does not exist as far as this actor knows.
            return Err(ResultCode::SessionNotFound);
        }
        self.drop_session(c.session, out);
        Ok(done())
    }

    /// Forgets a session and every token hash that could revive it.
    fn drop_session(&mut self, id: SessionId, out: &mut Vec<Event>) {
        let Some(session) = self.users.sessions.remove(&id) else {
            return;
        };
        self.users.by_refresh.remove(&session.refresh_hash);
        for hash in &session.retired {
            self.users.retired_refresh.remove(hash);
        }
        self.users.session_expiry.remove(&(session.expires_at, id));
        if let Some(user) = self.users.get_mut(session.user) {
            user.sessions.retain(|&s| s != id);
        }
        out.push(Event::SessionRevoked(SessionRevoked {
            session: id,
            user: session.user,
        }));
    }

    /// Expired sessions are forgotten on the timer; no event, since every gateway already
    /// refuses their tokens by expiry.
    pub(crate) fn expire_sessions(&mut self) {
        while let Some(&(expires_at, id)) = self.users.session_expiry.first() {
            if expires_at > self.now {
                break;
            }
            let mut discard = Vec::new();
            self.drop_session(id, &mut discard);
        }
    }

    pub(crate) fn begin_two_fa(&mut self, c: &BeginTwoFa) -> Result<Reply, ResultCode> {
        let now = self.now;
        let user = self.users.get_mut(c.user).ok_or(ResultCode::UserNotFound)?;
        if user.two_fa.enabled {
            return Err(ResultCode::TwoFaAlreadyEnabled);
        }
        user.two_fa.secret = Some(c.secret);
        user.updated_at = now;
        Ok(done())
    }

    pub(crate) fn verify_two_fa(
        &mut self,
        c: &VerifyTwoFa,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        self.accept_code(c.user, c.code)?;
        let now = self.now;
        let user = self.users.get_mut(c.user).expect("checked by accept_code");
        if !user.two_fa.enabled {
            user.two_fa.enabled = true;
            user.updated_at = now;
            out.push(Event::UserChanged(UserChanged { user: c.user }));
        }
        Ok(done())
    }

    pub(crate) fn update_profile(
        &mut self,
        c: &UpdateProfile,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if c.actor != c.user && !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        let checks: [(&Option<String>, usize); 6] = [
            (&c.display_name, text::DISPLAY_NAME_MAX),
            (&c.avatar_url, text::AVATAR_URL_MAX),
            (&c.timezone, text::TIMEZONE_MAX),
            (&c.language, text::LANGUAGE_MAX),
            (&c.country_code, 2),
            (&c.settings, text::SETTINGS_MAX),
        ];
        for (field, max) in checks {
            if let Some(value) = field {
                text::optional_line(value, max)?;
            }
        }
        if let Some(bio) = &c.bio {
            text::body(bio, text::BIO_MAX)?;
        }
        if let Some(country) = &c.country_code
            && !country.is_empty()
            && !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(ResultCode::InvalidText);
        }
        let now = self.now;
        let user = self.users.get_mut(c.user).ok_or(ResultCode::UserNotFound)?;
        let profile = &mut user.profile;
        let fields = [
            (&c.display_name, &mut profile.display_name),
            (&c.avatar_url, &mut profile.avatar_url),
            (&c.bio, &mut profile.bio),
            (&c.country_code, &mut profile.country_code),
            (&c.timezone, &mut profile.timezone),
            (&c.language, &mut profile.language),
            (&c.settings, &mut profile.settings),
        ];
        for (new, current) in fields {
            if let Some(value) = new {
                current.clone_from(value);
            }
        }
        user.updated_at = now;
        out.push(Event::UserChanged(UserChanged { user: c.user }));
        Ok(done())
    }

    pub(crate) fn submit_kyc(&mut self, c: &SubmitKyc) -> Result<Reply, ResultCode> {
        text::line(&c.document_type, text::DOCUMENT_TYPE_MAX)?;
        text::line(&c.document_url, text::DOCUMENT_URL_MAX)?;
        text::line(&c.content_type, text::CONTENT_TYPE_MAX)?;
        let user = self.users.get(c.user).ok_or(ResultCode::UserNotFound)?;
        if user.kyc_documents.len() >= self.limits.kyc_documents_per_user_max as usize {
            return Err(ResultCode::KycLimitReached);
        }
        let documents = user
            .kyc_documents
            .iter()
            .map(|id| &self.users.kyc_documents[id.0 as usize - 1]);
        let (pending, stored) = documents.fold((0usize, 0u64), |(pending, stored), d| {
            (
                pending + usize::from(d.status == KycStatus::Pending),
                stored.saturating_add(d.size_bytes),
            )
        });
        if pending >= KYC_PENDING_PER_USER_MAX {
            return Err(ResultCode::KycPendingLimit);
        }
        if stored.saturating_add(c.size_bytes) > UPLOAD_BYTES_PER_USER_MAX {
            return Err(ResultCode::StorageQuotaExceeded);
        }
        let id = KycDocumentId(self.users.kyc_documents.len() as u64 + 1);
        self.users.kyc_documents.push(KycDocument {
            id,
            user: c.user,
            document_type: c.document_type.clone(),
            document_url: c.document_url.clone(),
            content_type: c.content_type.clone(),
            size_bytes: c.size_bytes,
            sha256: c.sha256,
            status: KycStatus::Pending,
            submitted_at: self.now,
            verified_at: None,
            verified_by: None,
            kyc_level: 0,
            notes: String::new(),
        });
        self.users
            .get_mut(c.user)
            .expect("checked")
            .kyc_documents
            .push(id);
        Ok(Reply::Created(Created { id: id.0 }))
    }

    pub(crate) fn decide_kyc(
        &mut self,
        c: &DecideKyc,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        text::body(&c.notes, text::NOTES_MAX)?;
        let now = self.now;
        let index = usize::try_from(c.document.0)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .filter(|&i| i < self.users.kyc_documents.len())
            .ok_or(ResultCode::KycDocumentNotFound)?;
        let document = &mut self.users.kyc_documents[index];
        if document.status != KycStatus::Pending {
            return Err(ResultCode::KycNotPending);
        }
        let status = if c.approve {
            KycStatus::Approved
        } else {
            KycStatus::Rejected
        };
        document.status = status;
        document.verified_at = Some(now);
        document.verified_by = Some(c.actor);
        document.notes.clone_from(&c.notes);
        document.kyc_level = if c.approve { c.kyc_level } else { 0 };
        let owner = document.user;
        let user = self
            .users
            .get_mut(owner)
            .expect("documents belong to users");
        if c.approve {
            user.kyc_level = c.kyc_level;
            user.updated_at = now;
        }
        out.push(Event::KycDecided(KycDecided {
            document: c.document,
            user: owner,
            status,
            kyc_level: user.kyc_level,
        }));
        Ok(done())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referral_codes_are_deterministic_and_readable() {
        let a = referral_code(42, 0);
        assert_eq!(a, referral_code(42, 0));
        assert_ne!(a, referral_code(42, 1));
        assert_eq!(a.len(), REFERRAL_CODE_LEN);
        assert!(a.bytes().all(|b| REFERRAL_ALPHABET.contains(&b)));
    }
}
