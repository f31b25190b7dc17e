//! Communities through the real binary: a paid community's fee exact through the ledger,
//! a private community's requests and invitations, the role ladder of moderation with
//! its log, the lists from the history store (read-your-writes), and a SIGKILL that loses
//! none of it.

use betbet_tests::{Api, Reply, Server, assert_amount, funded, json};
use serde_json::Value;

fn available(api: &Api, user: &str) -> String {
    let wallets = api.get(&format!("/api/v1/wallets/{user}")).expect(200);
    wallets["wallets"][0]["available_balance"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn create(api: &Api, body: Value) -> Value {
    api.post("/api/v1/communities/create", &body).expect(201)
}

fn path(community: &Value, rest: &str) -> String {
    format!(
        "/api/v1/communities/{}{rest}",
        community["id"].as_str().unwrap()
    )
}

fn manage(api: &Api, community: &Value, user: &str, body: Value) -> Reply {
    api.post(&path(community, &format!("/members/{user}")), &body)
}

#[test]
fn a_paid_community_charges_its_fee_exactly_once() {
    // A 5 % platform fee, so the split is visible.
    let server = Server::start(&["--demo", "--platform-fee-bp", "500"]);
    let anon = server.api();
    let (owner, owner_id) = funded(&anon, "club_owner", "10");
    let (fan, fan_id) = funded(&anon, "club_fan", "100");
    let club = create(
        &owner,
        json!({"name": "Sharp Tipsters", "type": "paid", "membership_fee": "12.40",
               "category": "Football", "description": "Daily picks"}),
    );
    assert_eq!(club["type"], "paid");
    assert_amount(&club["membership_fee"], "12.4");
    assert_eq!(club["category"], "football");
    assert_eq!(club["membership"]["role"], "owner");

    let joined = fan.post(&path(&club, "/join"), &json!({})).expect(200);
    assert_eq!(joined["member_count"], 2);
    assert_eq!(joined["membership"]["status"], "active");
    assert_amount(&joined["membership"]["fee_paid"], "12.4");
    // 12.40 from the fan; 5 % (0.62) to the platform, 11.78 to the owner.
    assert_amount(&Value::String(available(&fan, &fan_id)), "87.6");
    assert_amount(&Value::String(available(&owner, &owner_id)), "21.78");
    // Once: a second join is refused and moves nothing.
    fan.post(&path(&club, "/join"), &json!({}))
        .expect_error(409, "already_member");
    assert_amount(&Value::String(available(&fan, &fan_id)), "87.6");
    // The fan's history names the community.
    let history = fan
        .get(&format!("/api/v1/transactions/{fan_id}?type=fee"))
        .expect(200);
    assert_eq!(history["items"][0]["reference_type"], "community");
    assert_eq!(history["items"][0]["reference_id"], club["id"]);
    assert_amount(&history["items"][0]["amount"], "12.4");

    // Too poor: refused, nothing moves; a fee where none belongs: refused.
    let (poor, poor_id) = funded(&anon, "club_poor", "5");
    poor.post(&path(&club, "/join"), &json!({}))
        .expect_error(422, "insufficient_funds");
    assert_amount(&Value::String(available(&poor, &poor_id)), "5");
    owner
        .post(
            "/api/v1/communities/create",
            &json!({"name": "Free", "type": "public", "membership_fee": "1"}),
        )
        .expect_error(400, "invalid_community");
    owner
        .post(
            "/api/v1/communities/create",
            &json!({"name": "sharp TIPSTERS"}),
        )
        .expect_error(409, "community_name_taken");
    // Joining for someone else is refused.
    poor.post(&path(&club, "/join"), &json!({"user_id": fan_id}))
        .expect_error(403, "forbidden");
}

#[test]
fn private_communities_moderation_and_the_log_survive_a_sigkill() {
    let mut server = Server::start(&["--demo"]);
    let anon = server.api();
    let (owner, _) = funded(&anon, "circle_owner", "1");
    let (admin, admin_id) = funded(&anon, "circle_admin", "1");
    let (moderator, moderator_id) = funded(&anon, "circle_mod", "1");
    let (member, member_id) = funded(&anon, "circle_member", "1");
    let (outsider, _) = funded(&anon, "circle_outsider", "1");
    let circle = create(&owner, json!({"name": "Inner Circle", "type": "private"}));

    // A request waits for an owner or admin; an invitation lets in at once.
    let asked = member.post(&path(&circle, "/join"), &json!({})).expect(200);
    assert_eq!(asked["membership"]["status"], "pending");
    assert_eq!(asked["member_count"], 1);
    assert_eq!(asked["pending_count"], 1);
    for user in [&admin_id, &moderator_id] {
        let invited = manage(&owner, &circle, user, json!({"action": "invite"})).expect(200);
        assert_eq!(invited["status"], "invited");
    }
    admin.post(&path(&circle, "/join"), &json!({})).expect(200);
    moderator
        .post(&path(&circle, "/join"), &json!({}))
        .expect(200);
    manage(
        &owner,
        &circle,
        &admin_id,
        json!({"action": "set_role", "role": "admin"}),
    )
    .expect(200);
    let appointed = manage(
        &admin,
        &circle,
        &moderator_id,
        json!({"action": "set_role", "role": "moderator"}),
    )
    .expect(200);
    assert_eq!(appointed["role"], "moderator");
    // Pending requests are for admins to see and decide, not moderators.
    let pending = admin
        .get(&path(&circle, "/members?status=pending"))
        .expect(200);
    assert_eq!(pending["total"], 1);
    assert_eq!(pending["members"][0]["user_id"], member_id);
    assert_eq!(pending["members"][0]["username"], "circle_member");
    moderator
        .get(&path(&circle, "/members?status=pending"))
        .expect_error(403, "not_community_moderator");
    manage(
        &moderator,
        &circle,
        &member_id,
        json!({"action": "approve"}),
    )
    .expect_error(403, "not_community_moderator");
    let approved = manage(&admin, &circle, &member_id, json!({"action": "approve"})).expect(200);
    assert_eq!(approved["status"], "active");
    // A private community's members are for its members.
    outsider
        .get(&path(&circle, "/members"))
        .expect_error(403, "not_community_moderator");
    let members = member.get(&path(&circle, "/members")).expect(200);
    assert_eq!(members["total"], 4);
    let roles: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    // Earliest first: an invitation counts from its acceptance, a request from its approval.
    assert_eq!(roles, ["owner", "admin", "moderator", "member"]);

    // The ladder: a moderator bans a member, not an admin; an outsider nothing.
    manage(
        &moderator,
        &circle,
        &admin_id,
        json!({"action": "mute", "duration_secs": 60}),
    )
    .expect_error(403, "not_community_moderator");
    manage(
        &outsider,
        &circle,
        &member_id,
        json!({"action": "ban", "duration_secs": 60}),
    )
    .expect_error(403, "not_community_moderator");
    manage(&moderator, &circle, &member_id, json!({"action": "ban"}))
        .expect_error(400, "invalid_request");
    let banned = manage(
        &moderator,
        &circle,
        &member_id,
        json!({"action": "ban", "duration_secs": 3600, "reason": "spam links"}),
    )
    .expect(200);
    assert!(banned["banned_until"].is_string());
    member
        .post(&path(&circle, "/leave"), &json!({}))
        .expect_error(403, "member_banned");
    // The log is the admins'; newest first; who, what, when and why.
    moderator
        .get(&path(&circle, "/moderation"))
        .expect_error(403, "not_community_moderator");
    let log = admin.get(&path(&circle, "/moderation")).expect(200);
    let entries = log["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "banned", "approved", "role_set", "role_set", "invited", "invited"
        ]
    );
    assert_eq!(entries[0]["actor_id"], moderator_id);
    assert_eq!(entries[0]["user_id"], member_id);
    assert_eq!(entries[0]["reason"], "spam links");
    assert_eq!(entries[0]["until"], banned["banned_until"]);

    // SIGKILL: the community, its members and its log come back as they were.
    let before = (
        owner.get(&path(&circle, "")).expect(200),
        admin.get(&path(&circle, "/members")).expect(200),
        log.clone(),
    );
    server.kill();
    server.restart();
    let after = (
        owner.get(&path(&circle, "")).expect(200),
        admin.get(&path(&circle, "/members")).expect(200),
        admin.get(&path(&circle, "/moderation")).expect(200),
    );
    assert_eq!(before, after);
    member
        .post(&path(&circle, "/join"), &json!({}))
        .expect_error(403, "member_banned");

    // The owner stays; the list finds the community by category and sort.
    owner
        .post(&path(&circle, "/leave"), &json!({}))
        .expect_error(403, "owner_cannot_leave");
    let list = anon.get("/api/v1/communities?sort=members").expect(200);
    assert!(
        list["communities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == circle["id"] && c["member_count"] == 4)
    );
}
