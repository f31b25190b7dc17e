//! Requests written from the product spec's signatures work as written: its parameter names
//! are accepted, the fields we added are optional with documented defaults, and an identity
//! parameter must name the caller (anything else is a 403, never silently ignored).

use betbet_tests::{Server, funded, json};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image body";

#[test]
fn the_specs_requests_work_as_written() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let (alice, alice_id) = funded(&anon, "spec_alice", "100");
    let (bob, bob_id) = funded(&anon, "spec_bob", "100");

    // send_transfer(sender_id, recipient, amount, memo): no currency (the default wallet's).
    let sent = alice
        .post(
            "/api/v1/transfers/send",
            &json!({"sender_id": alice_id, "recipient": "spec_bob", "amount": "2.5", "memo": "lunch"}),
        )
        .expect(201);
    assert_eq!(sent["currency"], "USD");
    alice
        .post(
            "/api/v1/transfers/send",
            &json!({"sender_id": bob_id, "recipient": "spec_alice", "amount": "1"}),
        )
        .expect_error(403, "forbidden");

    // add_payment_method(user_id, method_type, details): the provider comes from them.
    let method = alice
        .post(
            "/api/v1/payment-methods/add",
            &json!({"user_id": alice_id, "method_type": "mobile_money", "details": {"phone": "+263 77 000 0000", "provider": "ecocash"}}),
        )
        .expect(201);
    assert_eq!(method["provider"], "ecocash");
    let card = alice
        .post(
            "/api/v1/payment-methods/add",
            &json!({"method_type": "card", "details": {"card_number": "4111111111111111"}}),
        )
        .expect(201);
    assert_eq!(card["provider"], "card");

    // initiate_deposit(user_id, amount, currency, payment_method): a saved method works too.
    let deposit = alice
        .post(
            "/api/v1/deposits/initiate",
            &json!({"user_id": alice_id, "amount": "5", "currency": "USD", "payment_method": method["id"]}),
        )
        .expect(201);
    assert_eq!(deposit["payment_method"], "ecocash");
    assert_eq!(deposit["status"], "pending");

    // Histories: date_from as the spec's clients send it (no offset, or a bare date); a
    // typed history refuses another type rather than ignore it.
    for date in ["2020-01-01", "2020-01-01T00:00:00", "2020-01-01T00:00:00Z"] {
        let history = alice
            .get(&format!("/api/v1/transactions/{alice_id}?date_from={date}"))
            .expect(200);
        assert!(!history["items"].as_array().unwrap().is_empty(), "{date}");
    }
    let future = alice
        .get(&format!(
            "/api/v1/deposits/{alice_id}/history?date_from=2100-01-01"
        ))
        .expect(200);
    assert!(
        future["items"].as_array().unwrap().is_empty(),
        "date_from applies"
    );
    alice
        .get(&format!(
            "/api/v1/deposits/{alice_id}/history?type=withdrawal"
        ))
        .expect_error(400, "invalid_request");

    // update_profile(user_id, profile_data): wrapped or not.
    let profile = alice
        .put(
            &format!("/api/v1/users/{alice_id}"),
            &json!({"profile_data": {"bio": "wrapped"}}),
        )
        .expect(200);
    assert_eq!(profile["profile"]["bio"], "wrapped");

    // submit_kyc(user_id, document_type, document_file).
    alice
        .upload(
            "/api/v1/kyc/submit",
            &[
                ("user_id", alice_id.as_str()),
                ("document_type", "passport"),
            ],
            ("document_file", "image/png", PNG),
        )
        .expect(201);
    alice
        .upload(
            "/api/v1/kyc/submit",
            &[("user_id", bob_id.as_str()), ("document_type", "passport")],
            ("document_file", "image/png", PNG),
        )
        .expect_error(403, "forbidden");

    // join_pool(pool_id, user_id).
    let pool = bob
        .post(
            "/api/v1/pools/create",
            &json!({"name": "Spec pool", "entry_amount": "1", "member_limit": 5}),
        )
        .expect(201);
    let join = format!("/api/v1/pools/{}/join", pool["id"].as_str().unwrap());
    alice
        .post(&join, &json!({"user_id": bob_id}))
        .expect_error(403, "forbidden");
    alice.post(&join, &json!({"user_id": alice_id})).expect(200);

    // logout(token): the session of that token ends.
    let second = anon
        .post(
            "/api/v1/auth/login",
            &json!({"username": "spec_alice", "password": "password-of-spec_alice"}),
        )
        .expect(200);
    let token = second["access_token"].as_str().unwrap();
    alice
        .post("/api/v1/auth/logout", &json!({"token": bob.token}))
        .expect_error(403, "forbidden");
    alice
        .post(
            "/api/v1/auth/logout",
            &json!({"token": token, "user_id": alice_id}),
        )
        .expect(200);
    assert_eq!(
        anon.with_token(token)
            .get(&format!("/api/v1/wallets/{alice_id}"))
            .status,
        401
    );
    assert_eq!(
        alice.get(&format!("/api/v1/wallets/{alice_id}")).status,
        200
    );
}
