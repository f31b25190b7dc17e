//! Communities through the real binary: a paid community's fee exact through the ledger,
//! a private community's requests and invitations, the role ladder of moderation with
//! its log, the lists from the history store (read-your-writes), and a SIGKILL that loses
//! none of it.

use betbet_tests::postgres::Postgres;
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

fn thread_path(thread: &Value, rest: &str) -> String {
    format!("/api/v1/threads/{}{rest}", thread["id"].as_str().unwrap())
}

fn post_thread(api: &Api, community: &Value, title: &str, content: &str) -> Value {
    api.post(
        "/api/v1/threads/create",
        &json!({"community_id": community["id"], "title": title, "content": content}),
    )
    .expect(201)
}

fn reply(api: &Api, thread: &Value, parent: Option<&Value>, content: &str) -> Value {
    let mut body = json!({"content": content});
    if let Some(parent) = parent {
        body["parent_reply_id"] = parent["id"].clone();
    }
    api.post(&thread_path(thread, "/reply"), &body).expect(201)
}

fn vote(api: &Api, thread: &Value, reply: Option<&Value>, vote_type: &str) -> Value {
    let mut body = json!({"vote_type": vote_type});
    if let Some(reply) = reply {
        body["reply_id"] = reply["id"].clone();
    }
    api.post(&thread_path(thread, "/vote"), &body).expect(200)
}

/// The Wilson score's lower bound at 95 %, computed here independently of the server.
fn wilson(up: f64, down: f64) -> f64 {
    let n = up + down;
    if n == 0.0 {
        return 0.0;
    }
    let (p, z) = (up / n, 1.959_963_984_540_054_f64);
    (p + z * z / (2.0 * n) - z * ((p * (1.0 - p) + z * z / (4.0 * n)) / n).sqrt())
        / (1.0 + z * z / n)
}

fn ids(list: &Value, field: &str) -> Vec<String> {
    list[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn threads_nest_vote_rank_and_survive_a_sigkill() {
    let mut server = Server::start(&["--demo"]);
    let anon = server.api();
    let (owner, _) = funded(&anon, "forum_owner", "1");
    let (alice, _) = funded(&anon, "forum_alice", "1");
    let (bob, _) = funded(&anon, "forum_bob", "1");
    let voters: Vec<Api> = (0..4)
        .map(|i| funded(&anon, &format!("forum_voter{i}"), "1").0)
        .collect();
    let forum = create(&owner, json!({"name": "Match Day", "type": "public"}));
    for api in [&alice, &bob].into_iter().chain(&voters) {
        api.post(&path(&forum, "/join"), &json!({})).expect(200);
    }

    // Markdown renders; HTML in a post is shown, never run.
    let thread = post_thread(
        &owner,
        &forum,
        "Derby preview",
        "**Form** guide <script>alert(1)</script> [x](javascript:alert(1))",
    );
    let html = thread["content_html"].as_str().unwrap();
    assert!(html.contains("<strong>Form</strong>"), "{html}");
    assert!(
        !html.contains("<script") && !html.contains("javascript:"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;"), "{html}");

    // A tree: three top-level replies, one with a nested reply and a reply to that.
    let first = reply(&alice, &thread, None, "first");
    let second = reply(&bob, &thread, None, "second");
    let third = reply(&alice, &thread, None, "third");
    let nested = reply(&bob, &thread, Some(&first), "nested");
    let deeper = reply(&alice, &thread, Some(&nested), "deeper");
    assert_eq!(
        (nested["depth"].clone(), deeper["depth"].clone()),
        (json!(2), json!(3))
    );

    // One vote per user and post, changeable, exact; never on one's own post.
    alice
        .post(
            &thread_path(&thread, "/vote"),
            &json!({"vote_type": "up", "reply_id": first["id"]}),
        )
        .expect_error(403, "cannot_vote_own_post");
    let counted = vote(&bob, &thread, None, "upvote");
    assert_eq!(
        (counted["upvotes"].clone(), counted["downvotes"].clone()),
        (json!(1), json!(0))
    );
    vote(&bob, &thread, None, "upvote");
    let changed = vote(&bob, &thread, None, "down");
    assert_eq!(
        (changed["upvotes"].clone(), changed["downvotes"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(changed["your_vote"], "down");
    let cleared = vote(&bob, &thread, None, "clear");
    assert_eq!(
        (cleared["score"].clone(), cleared["your_vote"].clone()),
        (json!(0), Value::Null)
    );

    // Known votes on the replies: first 1–0, second 3–0, third 2–2. Best is the Wilson
    // lower bound, computed here: second, first, third.
    vote(&voters[0], &thread, Some(&first), "up");
    for v in &voters[..3] {
        vote(v, &thread, Some(&second), "up");
    }
    for (i, v) in voters.iter().enumerate() {
        vote(v, &thread, Some(&third), if i < 2 { "up" } else { "down" });
    }
    let mut expected = [(&first, 1.0, 0.0), (&second, 3.0, 0.0), (&third, 2.0, 2.0)];
    expected.sort_by(|a, b| wilson(b.1, b.2).total_cmp(&wilson(a.1, a.2)));
    let page = bob.get(&thread_path(&thread, "?sort=best")).expect(200);
    let tops: Vec<String> = page["replies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["depth"] == 1)
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let wanted: Vec<String> = expected
        .iter()
        .map(|(r, ..)| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tops, wanted);
    // Depth first: a reply's subtree follows it.
    let order = ids(&page, "replies");
    let at = |r: &Value| {
        order
            .iter()
            .position(|id| id == r["id"].as_str().unwrap())
            .unwrap()
    };
    assert_eq!((at(&nested), at(&deeper)), (at(&first) + 1, at(&first) + 2));
    assert_eq!(page["total"], 3);
    assert_eq!(page["thread"]["reply_count"], 5);
    // "old" is posting order.
    let old = bob.get(&thread_path(&thread, "?sort=old")).expect(200);
    let old_tops: Vec<Value> = old["replies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["depth"] == 1)
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(
        old_tops,
        [
            first["id"].clone(),
            second["id"].clone(),
            third["id"].clone()
        ]
    );
    // Views: once per reader and hour.
    let views = bob.get(&thread_path(&thread, "")).expect(200)["thread"]["view_count"].clone();
    assert_eq!(
        bob.get(&thread_path(&thread, "")).expect(200)["thread"]["view_count"],
        views
    );
    let seen = alice.get(&thread_path(&thread, "")).expect(200)["thread"]["view_count"].clone();
    assert_eq!(seen.as_u64().unwrap(), views.as_u64().unwrap() + 1);

    // Hot on known inputs: scores 3, 1 and −3 a moment apart rank in that order (by
    // Reddit's formula ±1 weigh as 0, so the −3); a pinned thread comes first whatever its
    // score.
    let hot: Vec<Value> = ["hot three", "hot one", "hot minus"]
        .iter()
        .map(|t| post_thread(&owner, &forum, t, "body"))
        .collect();
    for v in &voters[..3] {
        vote(v, &hot[0], None, "up");
    }
    vote(&voters[0], &hot[1], None, "up");
    for v in &voters[..3] {
        vote(v, &hot[2], None, "down");
    }
    owner
        .post(
            &thread_path(&thread, "/moderate"),
            &json!({"action": "pin"}),
        )
        .expect(200);
    let listed = alice.get(&path(&forum, "/threads?sort=hot")).expect(200);
    let order = ids(&listed, "threads");
    let expected: Vec<String> = [&thread, &hot[0], &hot[1], &hot[2]]
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, expected);
    assert_eq!(listed["threads"][0]["is_pinned"], true);
    let top = alice.get(&path(&forum, "/threads?sort=top")).expect(200);
    assert_eq!(ids(&top, "threads")[1], expected[1]);

    // Locked by a moderator: no replies; the log records it with the thread.
    owner
        .post(
            &thread_path(&thread, "/moderate"),
            &json!({"action": "lock", "reason": "match over"}),
        )
        .expect(200);
    alice
        .post(&thread_path(&thread, "/reply"), &json!({"content": "late"}))
        .expect_error(409, "thread_locked");
    alice
        .post(
            &thread_path(&thread, "/moderate"),
            &json!({"action": "unlock"}),
        )
        .expect_error(403, "not_community_moderator");
    let log = owner.get(&path(&forum, "/moderation")).expect(200);
    assert_eq!(log["entries"][0]["action"], "thread_locked");
    assert_eq!(log["entries"][0]["thread_id"], thread["id"]);
    assert_eq!(log["entries"][0]["reason"], "match over");
    // Edits are the author's.
    bob.post(
        &thread_path(&thread, "/edit"),
        &json!({"content": "hijacked"}),
    )
    .expect_error(403, "not_post_author");
    let edited = owner
        .post(
            &thread_path(&thread, "/edit"),
            &json!({"content": "Form guide, revised"}),
        )
        .expect(200);
    assert_eq!(edited["title"], "Derby preview");
    assert_eq!(edited["content"], "Form guide, revised");

    // SIGKILL: the thread and its tree come back as they were.
    let before = bob.get(&thread_path(&thread, "?sort=best")).expect(200);
    server.kill();
    server.restart();
    let mut after = bob.get(&thread_path(&thread, "?sort=best")).expect(200);
    // The view count moved by this read only if bob's hour changed; compare the rest.
    after["thread"]["view_count"] = before["thread"]["view_count"].clone();
    after["thread"]["version"] = before["thread"]["version"].clone();
    assert_eq!(before, after);
}

#[test]
fn paywalls_deletes_and_search_show_only_what_a_reader_may_see() {
    paywalls_deletes_and_search(&[]);
}

/// The same against Postgres: its search is the English tsvector, not SQLite's FTS5.
#[test]
fn postgres_search_shows_only_what_a_reader_may_see() {
    let pg = Postgres::start();
    paywalls_deletes_and_search(&["--database-url", &pg.url]);
}

fn paywalls_deletes_and_search(extra: &[&str]) {
    let mut args = vec!["--demo", "--platform-fee-bp", "1000"];
    args.extend(extra);
    let server = Server::start(&args);
    let anon = server.api();
    let (author, author_id) = funded(&anon, "wall_author", "10");
    let (reader, reader_id) = funded(&anon, "wall_reader", "10");
    let (stranger, _) = funded(&anon, "wall_stranger", "10");
    let open = create(&author, json!({"name": "Open Tips", "type": "public"}));
    let closed = create(&author, json!({"name": "Closed Tips", "type": "private"}));
    reader.post(&path(&open, "/join"), &json!({})).expect(200);

    let premium = author
        .post(
            "/api/v1/threads/create",
            &json!({"community_id": open["id"], "title": "Saturday accumulator",
                    "content": PREMIUM, "has_paywall": true, "paywall_amount": "2.50"}),
        )
        .expect(201);
    // Before paying: the title and preview are public, the content and replies are not.
    let locked = reader.get(&thread_path(&premium, "")).expect(200);
    assert_eq!(locked["thread"]["has_access"], false);
    assert_eq!(locked["thread"]["content"], Value::Null);
    // The preview is a quarter of the content at most: it does not give the post away.
    let preview = locked["thread"]["preview"].as_str().unwrap();
    assert!(preview.starts_with("Zanzibarian outsiders"), "{preview}");
    assert!(preview.chars().count() <= PREMIUM.chars().count() / 4);
    assert!(!preview.contains("kangaroo"));
    reader
        .post(&thread_path(&premium, "/reply"), &json!({"content": "?"}))
        .expect_error(403, "paywall_required");
    // Paid once: 2.50 from the reader, 10 % to the platform, 2.25 to the author.
    let paid = reader
        .post(&thread_path(&premium, "/pay"), &json!({}))
        .expect(200);
    assert_eq!(paid["has_access"], true);
    assert_eq!(paid["content"], PREMIUM);
    reader
        .post(&thread_path(&premium, "/pay"), &json!({}))
        .expect(200);
    assert_amount(&Value::String(available(&reader, &reader_id)), "7.5");
    assert_amount(&Value::String(available(&author, &author_id)), "12.25");
    assert_eq!(paid["purchases"], 1);

    // Search: stemming finds a word's forms; a paywalled thread's title and preview are
    // searchable, never beyond them; a private community's threads only for members;
    // deleted posts never.
    let free = post_thread(
        &author,
        &open,
        "Cup predictions",
        "We predicted every upset",
    );
    let private = post_thread(&author, &closed, "Members only", "The zanzibarian secret");
    let search = |api: &Api, q: &str| {
        api.get(&format!("/api/v1/threads/search?q={q}"))
            .expect(200)
    };
    let found = search(&stranger, "predict");
    assert_eq!(found["total"], 1);
    assert_eq!(found["results"][0]["thread_id"], free["id"]);
    assert_eq!(found["results"][0]["title"], "Cup predictions");
    let zanzibar = search(&stranger, "zanzibarian");
    assert_eq!(ids_of(&zanzibar), [premium["id"].clone()]);
    // Past the preview, a paywalled post is not searchable, even by a buyer.
    assert_eq!(search(&stranger, "kangaroo")["total"], 0);
    assert_eq!(search(&reader, "kangaroo")["total"], 0);
    let as_owner = search(&author, "zanzibarian");
    assert_eq!(as_owner["total"], 2);
    assert!(ids_of(&as_owner).contains(&private["id"]));
    // A reply is found as itself.
    let answer = reply(&reader, &free, None, "Bookmakers hate this quokka strategy");
    let hit = search(&stranger, "quokka");
    assert_eq!(hit["results"][0]["reply_id"], answer["id"]);
    // Search syntax is just words: quotes, stars, brackets and colons find the words.
    assert_eq!(
        search(&stranger, "%22quokka%22%20*%20(strategy:%20-")["total"],
        1
    );
    // Deleted: gone from search and the text hidden; the author or a moderator only.
    stranger
        .post(&thread_path(&free, "/delete"), &json!({}))
        .expect_error(403, "not_post_author");
    let deleted = author
        .post(
            &thread_path(&free, "/delete"),
            &json!({"reply_id": answer["id"], "reason": "spam"}),
        )
        .expect(200);
    assert_eq!(deleted["is_deleted"], false);
    assert_eq!(search(&stranger, "quokka")["total"], 0);
    let page = stranger.get(&thread_path(&free, "")).expect(200);
    assert_eq!(page["replies"][0]["is_deleted"], true);
    assert_eq!(page["replies"][0]["content"], Value::Null);
    author
        .post(&thread_path(&free, "/delete"), &json!({}))
        .expect(200);
    assert_eq!(search(&stranger, "predict")["total"], 0);
    // The private community's threads are closed to a stranger.
    stranger
        .get(&thread_path(&private, ""))
        .expect_error(403, "members_only");
    stranger
        .get(&path(&closed, "/threads"))
        .expect_error(403, "members_only");
}

/// A paywalled post: its first quarter is the public preview, its last word is not.
const PREMIUM: &str = "Zanzibarian outsiders win on Saturday. The staking plan below \
    covers every leg at its price, the cash-out points and what to do if the early kick-off \
    goes against us. Keep stakes level across the four legs. The banker leg: kangaroo";

fn ids_of(found: &Value) -> Vec<Value> {
    found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["thread_id"].clone())
        .collect()
}

fn group_path(group: &Value, rest: &str) -> String {
    format!("/api/v1/groups/{}{rest}", group["id"].as_str().unwrap())
}

#[test]
fn a_group_wallet_takes_contributions_pays_out_exactly_and_stays_private() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let (owner, owner_id) = funded(&anon, "grp_owner", "100");
    let (ann, ann_id) = funded(&anon, "grp_ann", "100");
    let (ben, ben_id) = funded(&anon, "grp_ben", "100");
    let (outsider, outsider_id) = funded(&anon, "grp_out", "100");
    let group = owner
        .post(
            "/api/v1/groups/create",
            &json!({"name": "Weekend Syndicate", "type": "public", "max_members": 3}),
        )
        .expect(201);
    assert_eq!(group["your_role"], "owner");
    assert_eq!(group["member_count"], 1);
    owner
        .post(
            "/api/v1/groups/create",
            &json!({"name": "weekend syndicate"}),
        )
        .expect_error(409, "group_name_taken");
    for api in [&ann, &ben] {
        let joined = api
            .post(&group_path(&group, "/join"), &json!({}))
            .expect(200);
        assert_eq!(joined["your_role"], "member");
    }
    outsider
        .post(&group_path(&group, "/join"), &json!({}))
        .expect_error(409, "group_full");

    // Contributions leave the members' wallets exactly; a payout reaches one exactly.
    ann.post(
        &group_path(&group, "/contribute"),
        &json!({"amount": "25.5"}),
    )
    .expect(200);
    let wallet = ben
        .post(&group_path(&group, "/contribute"), &json!({"amount": "10"}))
        .expect(200);
    assert_amount(&wallet["balance"], "35.5");
    assert_amount(&Value::String(available(&ann, &ann_id)), "74.5");
    ann.post(
        &group_path(&group, "/payout"),
        &json!({"user_id": ann_id, "amount": "1"}),
    )
    .expect_error(403, "not_group_admin");
    owner
        .post(
            &group_path(&group, "/payout"),
            &json!({"user_id": ben_id, "amount": "40"}),
        )
        .expect_error(422, "insufficient_funds");
    owner
        .post(
            &group_path(&group, "/payout"),
            &json!({"user_id": outsider_id, "amount": "1"}),
        )
        .expect_error(404, "not_group_member");
    let wallet = owner
        .post(
            &group_path(&group, "/payout"),
            &json!({"user_id": ben_id, "amount": "20"}),
        )
        .expect(200);
    assert_amount(&wallet["balance"], "15.5");
    assert_amount(&Value::String(available(&ben, &ben_id)), "110");
    let wallet = ann.get(&group_path(&group, "/wallet")).expect(200);
    assert_eq!(wallet["total"], 3);
    let kinds: Vec<&str> = wallet["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["paid_out", "contributed", "contributed"]);
    assert_eq!(wallet["transactions"][0]["user_id"], ben_id.as_str());
    assert_eq!(wallet["transactions"][0]["actor_id"], owner_id.as_str());
    let member = |user: &str| {
        wallet["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == user)
            .cloned()
            .unwrap()
    };
    assert_amount(&member(&ann_id)["contributed"], "25.5");
    assert_amount(&member(&ann_id)["received"], "0");
    assert_amount(&member(&ben_id)["contributed"], "10");
    assert_amount(&member(&ben_id)["received"], "20");
    // Ben's wallet history shows both movements, referring to the group.
    let txs = ben
        .get(&format!("/api/v1/transactions/{ben_id}"))
        .expect(200);
    let group_txs: Vec<&Value> = txs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["reference_type"] == "group")
        .collect();
    assert_eq!(group_txs.len(), 2, "{txs}");

    // The wallet is the members' alone.
    outsider
        .get(&group_path(&group, "/wallet"))
        .expect_error(404, "group_not_found");
    outsider
        .post(&group_path(&group, "/contribute"), &json!({"amount": "1"}))
        .expect_error(404, "group_not_found");
    let seen = outsider.get(&group_path(&group, "")).expect(200);
    assert_eq!(seen["members"], json!([]));

    // A private group: invisible until invited; an invitation lets one in.
    let private = owner
        .post(
            "/api/v1/groups/create",
            &json!({"name": "Inner Circle", "type": "private"}),
        )
        .expect(201);
    outsider
        .get(&group_path(&private, ""))
        .expect_error(404, "group_not_found");
    outsider
        .post(&group_path(&private, "/join"), &json!({}))
        .expect_error(404, "group_not_found");
    owner
        .post(
            &group_path(&private, &format!("/members/{outsider_id}")),
            &json!({"action": "invite"}),
        )
        .expect(200);
    let invited = outsider.get(&group_path(&private, "")).expect(200);
    assert_eq!(invited["invited"], true);
    let joined = outsider
        .post(&group_path(&private, "/join"), &json!({}))
        .expect(200);
    assert_eq!(joined["your_role"], "member");
    // The group's chat room is its members': an outsider is refused at the handshake, a
    // member who leaves is closed out.
    let room = |api: &Api| {
        let url = format!(
            "ws://127.0.0.1:{}/ws/chat/{}?token={}",
            server.port,
            group["id"].as_str().unwrap(),
            api.token.as_deref().unwrap()
        );
        tungstenite::connect(url)
    };
    match room(&outsider) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 404, "{:?}", r.body()),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("an outsider opened the group's room"),
    }
    let (mut socket, _) = room(&ann).expect("a member opens the room");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
    }
    let mut next = || loop {
        match socket.read().expect("a message") {
            tungstenite::Message::Text(text) => {
                return serde_json::from_str::<Value>(&text).unwrap();
            }
            tungstenite::Message::Close(frame) => {
                return json!({"type": "close", "code": u16::from(frame.unwrap().code)});
            }
            _ => {}
        }
    };
    assert_eq!(next()["type"], "snapshot");
    // Leaving keeps what was paid in; the owner cannot leave.
    ann.post(&group_path(&group, "/leave"), &json!({}))
        .expect(200);
    assert_eq!(next(), json!({"type": "close", "code": 4004}));
    let wallet = owner.get(&group_path(&group, "/wallet")).expect(200);
    assert_amount(&wallet["balance"], "15.5");
    owner
        .post(&group_path(&group, "/leave"), &json!({}))
        .expect_error(403, "owner_cannot_leave");
}
