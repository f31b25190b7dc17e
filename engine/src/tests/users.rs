//! Users, sessions, two-factor codes, profiles and KYC.

use super::*;
use crate::accounts::totp;

fn session(user: UserId, token: u8, code: Option<u32>, expires_at: Timestamp) -> Command {
    Command::OpenSession(OpenSession {
        user,
        refresh_hash: [token; 32],
        expires_at,
        two_fa_code: code,
        device_info: "test".to_owned(),
        ip_address: "127.0.0.1".to_owned(),
    })
}

#[test]
fn registration_rules() {
    let mut w = World::new();
    let alice = w.register("alice");
    let register = |name: &str, email: &str, referral: Option<&str>| {
        Command::RegisterUser(RegisterUser {
            username: name.to_owned(),
            email: email.to_owned(),
            password_hash: "hash".to_owned(),
            referral_code: referral.map(str::to_owned),
        })
    };
    assert_eq!(
        w.err(register("Alice", "x@y.io", None)),
        ResultCode::UsernameTaken
    );
    assert_eq!(
        w.err(register("bob", "ALICE@example.com", None)),
        ResultCode::EmailTaken
    );
    assert_eq!(
        w.err(register("b", "b@y.io", None)),
        ResultCode::InvalidUsername
    );
    assert_eq!(
        w.err(register("bob", "nope", None)),
        ResultCode::InvalidEmail
    );
    assert_eq!(
        w.err(register("bob", "b@y.io", Some("NOSUCH"))),
        ResultCode::InvalidReferralCode
    );
    let code = w.engine.users.get(alice).unwrap().referral_code.clone();
    let Reply::UserRegistered(bob) = w.ok(register("bob", "b@y.io", Some(&code.to_lowercase())))
    else {
        panic!()
    };
    assert_eq!(
        w.engine.users.get(bob.user).unwrap().referred_by,
        Some(alice)
    );
    assert_ne!(bob.referral_code, code);
}

#[test]
fn refresh_tokens_rotate_and_a_reused_one_revokes_the_session() {
    let mut w = World::new();
    let alice = w.register("alice");
    let later = w.now.saturating_add_micros(3_600_000_000);
    let Reply::Session(opened) = w.ok(session(alice, 1, None, later)) else {
        panic!()
    };
    let refresh = |presented: u8, next: u8| {
        Command::RefreshSession(RefreshSession {
            presented_hash: [presented; 32],
            next_hash: [next; 32],
            expires_at: later,
        })
    };
    let Reply::Session(rotated) = w.ok(refresh(1, 2)) else {
        panic!()
    };
    assert_eq!(rotated.session, opened.session);
    assert_eq!(w.err(refresh(9, 3)), ResultCode::SessionNotFound);
    // Token 1 was rotated away: presenting it again is theft; the session dies.
    assert_eq!(w.err(refresh(1, 3)), ResultCode::RefreshTokenReused);
    assert_eq!(w.err(refresh(2, 3)), ResultCode::SessionNotFound);
    assert!(w.engine.users.sessions.is_empty());
}

#[test]
fn sessions_expire_and_are_bounded_per_user() {
    let mut w = World::with_limits(Limits {
        sessions_per_user_max: 2,
        ..Limits::default()
    });
    let alice = w.register("alice");
    let soon = w.now.saturating_add_micros(60_000_000);
    w.ok(session(alice, 1, None, soon));
    w.ok(session(alice, 2, None, soon));
    w.ok(session(alice, 3, None, soon));
    assert_eq!(w.engine.users.get(alice).unwrap().sessions.len(), 2);
    assert!(!w.engine.users.by_refresh.contains_key(&[1; 32]));
    w.advance(61);
    assert!(w.engine.users.sessions.is_empty());
}

#[test]
fn two_factor_codes_enable_guard_logins_and_are_single_use() {
    let mut w = World::new();
    let alice = w.register("alice");
    let secret = [42u8; 20];
    let code_now = |w: &World| totp::code_at(&secret, totp::step_of(w.now.as_secs()) as u64);
    assert_eq!(
        w.err(Command::VerifyTwoFa(VerifyTwoFa {
            user: alice,
            code: 1
        })),
        ResultCode::TwoFaNotSetUp
    );
    w.ok(Command::BeginTwoFa(BeginTwoFa {
        user: alice,
        secret,
    }));
    let wrong = (code_now(&w) + 1) % 1_000_000;
    assert_eq!(
        w.err(Command::VerifyTwoFa(VerifyTwoFa {
            user: alice,
            code: wrong
        })),
        ResultCode::InvalidTwoFaCode
    );
    let code = code_now(&w);
    w.ok(Command::VerifyTwoFa(VerifyTwoFa { user: alice, code }));
    assert!(w.engine.users.get(alice).unwrap().two_fa.enabled);
    let later = w.now.saturating_add_micros(3_600_000_000);
    assert_eq!(
        w.err(session(alice, 1, None, later)),
        ResultCode::TwoFaRequired
    );
    assert_eq!(
        w.err(session(alice, 1, Some(code), later)),
        ResultCode::TwoFaCodeReused
    );
    w.advance(30);
    let fresh = code_now(&w);
    w.ok(session(alice, 1, Some(fresh), later));
    assert_eq!(
        w.err(Command::BeginTwoFa(BeginTwoFa {
            user: alice,
            secret
        })),
        ResultCode::TwoFaAlreadyEnabled
    );
}

#[test]
fn profiles_change_only_their_own_fields_and_only_by_their_owner() {
    let mut w = World::new();
    let alice = w.register("alice");
    let bob = w.register("bob");
    let update = |actor, country: Option<&str>, bio: Option<&str>| {
        Command::UpdateProfile(UpdateProfile {
            actor,
            user: alice,
            display_name: Some("Alice A.".to_owned()),
            avatar_url: None,
            bio: bio.map(str::to_owned),
            country_code: country.map(str::to_owned),
            timezone: None,
            language: None,
            settings: None,
        })
    };
    assert_eq!(w.err(update(bob, None, None)), ResultCode::Forbidden);
    assert_eq!(
        w.err(update(alice, Some("zw"), None)),
        ResultCode::InvalidText
    );
    assert_eq!(
        w.err(update(alice, Some("ZWE"), None)),
        ResultCode::TextTooLong
    );
    assert_eq!(
        w.err(update(alice, None, Some(&"x".repeat(2_001)))),
        ResultCode::TextTooLong
    );
    w.ok(update(alice, Some("ZW"), Some("Line one\nline two")));
    let profile = &w.engine.users.get(alice).unwrap().profile;
    assert_eq!(profile.display_name, "Alice A.");
    assert_eq!(profile.country_code, "ZW");
    assert_eq!(profile.language, "en");
}

#[test]
fn kyc_decisions_are_for_admins_and_final() {
    let mut w = World::new();
    let alice = w.register("alice");
    let admin = w.admin;
    let Reply::Created(doc) = w.ok(Command::SubmitKyc(SubmitKyc {
        user: alice,
        document_type: "id_card".to_owned(),
        document_url: "kyc/1/id.pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        size_bytes: 10,
        sha256: [0; 32],
    })) else {
        panic!()
    };
    let decide = |actor, approve| {
        Command::DecideKyc(DecideKyc {
            actor,
            document: KycDocumentId(doc.id),
            approve,
            kyc_level: 2,
            notes: "ok".to_owned(),
        })
    };
    assert_eq!(w.err(decide(alice, true)), ResultCode::Forbidden);
    w.ok(decide(admin, false));
    assert_eq!(w.engine.users.get(alice).unwrap().kyc_level, 0);
    assert_eq!(w.err(decide(admin, true)), ResultCode::KycNotPending);
}
