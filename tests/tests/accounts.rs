//! Auth, profile, KYC and wallet through the real binary, with every step's error cases;
//! then a SIGKILL and a restart that must keep everything acknowledged.

use betbet_tests::{Api, Server, assert_amount, json, now_secs, totp};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image body";

fn wallet_of(api: &Api, user: &str) -> serde_json::Value {
    let wallets = api.get(&format!("/api/v1/wallets/{user}")).expect(200);
    wallets["wallets"][0].clone()
}

#[test]
fn register_login_two_factor_money_and_restart() {
    let mut server = Server::start(&["--demo"]);
    let anon = server.api();

    // Registration and its refusals.
    let (alice, alice_id) = anon.signup("alice_e2e");
    anon.post(
        "/api/v1/auth/register",
        &json!({"username": "ALICE_E2E", "email": "x@example.com", "password": "long enough"}),
    )
    .expect_error(409, "username_taken");
    anon.post(
        "/api/v1/auth/register",
        &json!({"username": "shorty", "email": "s@example.com", "password": "short"}),
    )
    .expect_error(400, "invalid_password");
    anon.post(
        "/api/v1/auth/register",
        &json!({"username": "sneaky", "email": "n@example.com", "password": "long enough", "role": "admin"}),
    )
    .expect_error(400, "invalid_request");
    anon.post(
        "/api/v1/auth/login",
        &json!({"username": "alice_e2e", "password": "wrong password"}),
    )
    .expect_error(401, "invalid_credentials");
    anon.post(
        "/api/v1/auth/login",
        &json!({"username": "nobody_here", "password": "wrong password"}),
    )
    .expect_error(401, "invalid_credentials");
    let (bob, bob_id) = anon.signup("bob_e2e");
    anon.get(&format!("/api/v1/wallets/{alice_id}"))
        .expect_error(401, "unauthorized");

    // Profile: own fields only, privileged ones refused.
    let profile = alice
        .put(
            &format!("/api/v1/users/{alice_id}"),
            &json!({"display_name": "Alice", "country_code": "zw", "settings": {"theme": "dark"}}),
        )
        .expect(200);
    assert_eq!(profile["profile"]["country_code"], "ZW");
    assert_eq!(profile["profile"]["settings"]["theme"], "dark");
    alice
        .put(
            &format!("/api/v1/users/{alice_id}"),
            &json!({"kyc_level": 3}),
        )
        .expect_error(400, "invalid_request");
    bob.put(
        &format!("/api/v1/users/{alice_id}"),
        &json!({"bio": "hacked"}),
    )
    .expect_error(403, "forbidden");
    let public = bob.get(&format!("/api/v1/users/{alice_id}")).expect(200);
    assert!(public.get("email").is_none(), "others do not see the email");
    assert_eq!(public["profile"]["display_name"], "Alice");

    // Two-factor: enable, verify, then logins need a fresh code.
    let enabled = alice
        .post("/api/v1/auth/2fa/enable", &json!({}))
        .expect(200);
    let secret = enabled["secret"].as_str().unwrap().to_owned();
    assert!(
        enabled["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/BetBet:alice_e2e?secret=")
    );
    let now = now_secs();
    let right = totp(&secret, now);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    alice
        .post("/api/v1/auth/2fa/verify", &json!({"code": wrong}))
        .expect_error(401, "invalid_two_fa_code");
    alice
        .post(
            "/api/v1/auth/2fa/verify",
            &json!({"code": totp(&secret, now)}),
        )
        .expect(200);
    let login = |code: Option<String>| {
        let mut body = json!({"username": "alice_e2e", "password": "password-of-alice_e2e"});
        if let Some(code) = code {
            body["two_fa_code"] = code.into();
        }
        anon.post("/api/v1/auth/login", &body)
    };
    login(None).expect_error(401, "two_fa_required");
    // The next step's code is inside the ±1 window and not yet spent.
    let next = totp(&secret, now + 30);
    let tokens = login(Some(next.clone())).expect(200);
    login(Some(next)).expect_error(401, "two_fa_code_reused");
    let alice = alice.with_token(tokens["access_token"].as_str().unwrap());
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Money in: a sandbox deposit, idempotent under its key.
    let deposit = |api: &Api, amount: &str, key: &str| {
        api.send(
            "POST",
            "/api/v1/deposits/initiate",
            &json!({"amount": amount, "currency": "USD", "payment_method": "sandbox"}),
            &[("Idempotency-Key", key)],
        )
    };
    let first = deposit(&alice, "100.00", "dep-1").expect(201);
    assert_eq!(first["status"], "completed");
    let again = deposit(&alice, "100.00", "dep-1").expect(201);
    assert_eq!(again["id"], first["id"]);
    deposit(&alice, "150.00", "dep-1").expect_error(409, "idempotency_key_conflict");
    deposit(&alice, "1.000000001", "dep-2").expect_error(400, "invalid_amount");
    deposit(&alice, "-5", "dep-3").expect_error(400, "invalid_amount");
    deposit(&alice, "5", "dep-4").expect(201);
    let wallet = wallet_of(&alice, &alice_id);
    assert_amount(&wallet["balance"], "105");
    assert_amount(&wallet["available_balance"], "105");
    let alice_wallet = wallet["id"].as_str().unwrap().to_owned();

    // Nobody else reaches alice's wallet.
    bob.get(&format!("/api/v1/wallets/{alice_id}"))
        .expect_error(403, "forbidden");
    bob.get(&format!("/api/v1/wallets/{alice_wallet}/balance"))
        .expect_error(404, "not_found");
    bob.get(&format!(
        "/api/v1/transactions/{}",
        first["id"].as_str().unwrap()
    ))
    .expect_error(404, "not_found");

    // P2P transfer by username.
    let sent = alice
        .send(
            "POST",
            "/api/v1/transfers/send",
            &json!({"recipient": "bob_e2e", "amount": "25.5", "currency": "USD", "memo": "dinner"}),
            &[("Idempotency-Key", "tr-1")],
        )
        .expect(201);
    assert_eq!(sent["direction"], "debit");
    alice
        .post(
            "/api/v1/transfers/send",
            &json!({"recipient": "bob_e2e", "amount": "1000", "currency": "USD"}),
        )
        .expect_error(422, "insufficient_funds");
    alice
        .post(
            "/api/v1/transfers/send",
            &json!({"recipient": "no_such_user", "amount": "1", "currency": "USD"}),
        )
        .expect_error(404, "user_not_found");
    assert_amount(&wallet_of(&bob, &bob_id)["balance"], "25.5");
    let history = bob
        .get(&format!("/api/v1/transfers/{bob_id}/history"))
        .expect(200);
    assert_eq!(history["items"][0]["direction"], "credit");
    assert_eq!(history["items"][0]["counterparty_id"], alice_id.as_str());

    // Withdrawals: a payment method, the KYC limit, then an admin raises the level.
    let method = alice
        .post(
            "/api/v1/payment-methods/add",
            &json!({"method_type": "mobile_money", "provider": "ecocash", "details": {"phone": "+263 77 123 4567"}}),
        )
        .expect(201);
    assert_eq!(method["account_hint"], "•••• 4567");
    let method_id = method["id"].as_str().unwrap().to_owned();
    let withdraw = |amount: &str| {
        alice.post(
            "/api/v1/withdrawals/request",
            &json!({"amount": amount, "currency": "USD", "payment_method_id": method_id}),
        )
    };
    withdraw("10").expect_error(422, "withdrawal_limit_exceeded");
    let document = alice
        .upload(
            "/api/v1/kyc/submit",
            &[("document_type", "passport")],
            ("document_file", "image/png", PNG),
        )
        .expect(201);
    assert_eq!(document["status"], "pending");
    alice
        .upload(
            "/api/v1/kyc/submit",
            &[("document_type", "passport")],
            ("document_file", "image/png", b"not really a png"),
        )
        .expect_error(415, "unsupported_media_type");
    let (admin_name, admin_password) = server.demo_login("admin");
    let admin = anon.login(&admin_name, &admin_password);
    let document_id = document["id"].as_str().unwrap();
    alice
        .post(
            &format!("/api/v1/admin/kyc/{document_id}/approve"),
            &json!({"kyc_level": 1}),
        )
        .expect_error(403, "forbidden");
    admin
        .post(
            &format!("/api/v1/admin/kyc/{document_id}/approve"),
            &json!({"kyc_level": 1}),
        )
        .expect(200);
    let status = alice
        .get(&format!("/api/v1/kyc/status/{alice_id}"))
        .expect(200);
    assert_eq!(
        (status["kyc_level"].as_u64(), status["status"].as_str()),
        (Some(1), Some("approved"))
    );
    let pending = withdraw("30").expect(201);
    assert_eq!(pending["status"], "pending");
    let wallet = wallet_of(&alice, &alice_id);
    assert_amount(&wallet["locked_balance"], "30");
    assert_amount(&wallet["available_balance"], "49.5");
    let withdrawal_id = pending["id"].as_str().unwrap().to_owned();
    bob.post(
        &format!("/api/v1/withdrawals/{withdrawal_id}/cancel"),
        &json!({}),
    )
    .expect_error(404, "withdrawal_not_found");
    alice
        .post(
            &format!("/api/v1/withdrawals/{withdrawal_id}/cancel"),
            &json!({}),
        )
        .expect(200);
    assert_amount(&wallet_of(&alice, &alice_id)["available_balance"], "79.5");
    let approved = withdraw("20").expect(201);
    let approved_id = approved["id"].as_str().unwrap();
    admin
        .post(
            &format!("/api/v1/admin/withdrawals/{approved_id}/approve"),
            &json!({"notes": "paid"}),
        )
        .expect(200);
    assert_amount(&wallet_of(&alice, &alice_id)["balance"], "59.5");
    let withdrawals = alice
        .get(&format!("/api/v1/withdrawals/{alice_id}/history"))
        .expect(200);
    let statuses: Vec<&str> = withdrawals["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["completed", "cancelled"]);
    let deposits = alice
        .get(&format!("/api/v1/deposits/{alice_id}/history"))
        .expect(200);
    assert_eq!(deposits["items"].as_array().unwrap().len(), 2);
    let filtered = alice
        .get(&format!("/api/v1/transactions/{alice_id}?type=transfer"))
        .expect(200);
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);

    // Refresh tokens rotate; presenting a used one revokes the session.
    let rotated = anon
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh_token}),
        )
        .expect(200);
    let rotated_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    let alice = alice.with_token(rotated["access_token"].as_str().unwrap());
    alice
        .get(&format!("/api/v1/users/{alice_id}/stats"))
        .expect(200);

    // A crash: everything acknowledged must be there after restart.
    server.kill();
    server.restart();
    let anon = server.api();
    let wallet = wallet_of(&alice, &alice_id);
    assert_amount(&wallet["balance"], "59.5");
    assert_amount(&wallet_of(&bob, &bob_id)["balance"], "25.5");
    let again = deposit(&alice, "100.00", "dep-1").expect(201);
    assert_eq!(again["id"], first["id"], "idempotency survives the crash");
    assert_amount(&wallet_of(&alice, &alice_id)["balance"], "59.5");
    assert_eq!(
        alice
            .get(&format!("/api/v1/transactions/{alice_id}"))
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // The session survived too: its refresh token still rotates…
    let after = anon
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": rotated_refresh}),
        )
        .expect(200);
    // …and the one rotated away before the crash is recognised as stolen.
    anon.post(
        "/api/v1/auth/refresh",
        &json!({"refresh_token": rotated_refresh}),
    )
    .expect_error(401, "refresh_token_reused");
    anon.post(
        "/api/v1/auth/refresh",
        &json!({"refresh_token": after["refresh_token"].as_str().unwrap()}),
    )
    .expect_error(401, "session_not_found");

    // Logout ends the session: its access token stops working at once.
    let bob = anon.login("bob_e2e", "password-of-bob_e2e");
    bob.get(&format!("/api/v1/users/{bob_id}")).expect(200);
    bob.post("/api/v1/auth/logout", &json!({})).expect(200);
    bob.get(&format!("/api/v1/users/{bob_id}"))
        .expect_error(401, "session_revoked");
}

/// Every environment variable the binary reads is in the README's table (one naming
/// scheme, documented in one place).
#[test]
fn the_readme_lists_every_environment_variable() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"),
    )
    .unwrap();
    let mut seen = 0;
    for command in [
        &["serve"][..],
        &["core"],
        &["gateway"],
        &["admin", "grant"],
        &["journal", "verify"],
        &["projection", "rebuild"],
        &["projection", "status"],
    ] {
        let output = std::process::Command::new(betbet_tests::binary())
            .args(command)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        for variable in help.split("[env: ").skip(1) {
            let name = variable.split(['=', ']']).next().unwrap();
            assert!(
                readme.contains(&format!("| `{name}` |")),
                "{name} (betbet {}) is not in the README's table",
                command.join(" ")
            );
            seen += 1;
        }
    }
    assert!(seen > 30, "only {seen} variables found in --help");
}

/// The operator's commands: journal verify names a running server as the likely cause,
/// journal dump prints public ids and decimals with secrets redacted, and admin grant on a
/// mistyped data directory refuses without creating anything.
#[test]
fn operator_commands_say_what_is_wrong_and_keep_secrets() {
    let mut server = Server::start(&[]);
    let anon = server.api();
    betbet_tests::funded(&anon, "operated", "12.5");
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new(betbet_tests::binary())
            .args(args)
            .output()
            .unwrap()
    };
    let data = server.data_dir.clone();
    let busy = run(&["journal".as_ref(), "verify".as_ref(), data.as_os_str()]);
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("is the server still running"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    assert!(server.terminate().success());
    let dump = run(&["journal".as_ref(), "dump".as_ref(), data.as_os_str()]);
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.status.success(), "{text}");
    assert!(
        text.contains("password_hash: <redacted>") && !text.contains("$argon2"),
        "{text}"
    );
    assert!(
        text.contains("amount: 12.5") && text.contains("user: usr_"),
        "{text}"
    );
    let mistyped = data.join("no-such-dir");
    let grant = run(&[
        "admin".as_ref(),
        "grant".as_ref(),
        "--data-dir".as_ref(),
        mistyped.as_os_str(),
        "operated".as_ref(),
    ]);
    assert!(!grant.status.success());
    assert!(String::from_utf8_lossy(&grant.stderr).contains("holds no journal"));
    assert!(!mistyped.exists(), "admin grant created a data directory");
}
