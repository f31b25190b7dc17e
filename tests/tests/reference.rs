//! The API reference: `/api/v1/openapi.json` describes exactly the routes the server
//! serves, each as its route table declares it, and `/docs` renders it with nothing fetched
//! from elsewhere.

use betbet_tests::{Server, binary};
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: [&str; 4] = ["get", "put", "post", "delete"];

/// `betbet routes`: (METHOD, path) → access.
fn route_table() -> Vec<(String, String, String)> {
    let output = std::process::Command::new(binary())
        .arg("routes")
        .output()
        .expect("betbet routes");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let field = |k: &str| v[k].as_str().unwrap().to_owned();
            (field("method"), field("path"), field("access"))
        })
        .collect()
}

fn send(server: &Server, method: &str, path: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://127.0.0.1:{}{path}", server.port);
    let response = match method {
        "GET" => agent.get(&url).call(),
        "DELETE" => agent.delete(&url).call(),
        "PUT" => agent.put(&url).send_empty(),
        _ => agent.post(&url).send_empty(),
    }
    .expect("a response");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .read_to_string()
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

#[test]
fn the_document_describes_exactly_the_served_routes() {
    let server = Server::start(&[]);
    let document = server.api().get("/api/v1/openapi.json").expect(200);
    assert_eq!(document["openapi"], "3.1.0");

    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    let table = route_table();
    let served: BTreeSet<(String, String)> = table
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not documented: {undocumented:?}\ndocumented but not served: {unserved:?}"
    );

    let mut operation_ids = BTreeSet::new();
    for (method, path, access) in &table {
        let operation = &document["paths"][path][method.to_ascii_lowercase()];
        let id = operation["operationId"].as_str().expect("an operationId");
        assert!(operation_ids.insert(id.to_owned()), "{id} twice");
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path} has no summary"
        );
        // The bearer requirement is exactly the table's: routes that need a caller.
        let secured = operation["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        assert_eq!(
            secured,
            matches!(access.as_str(), "user" | "owner" | "admin"),
            "{method} {path} ({access}): security {:?}",
            operation["security"]
        );
        // Every path parameter is described, with a schema.
        for name in path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        {
            let parameter = operation["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == name && p["in"] == "path"))
                .unwrap_or_else(|| panic!("{method} {path}: no parameter {name}"));
            assert_eq!(parameter["required"], true);
            assert_eq!(parameter["schema"]["type"], "string", "{path} {name}");
        }
        // A success, and every error in the one envelope.
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2') || s == "101"),
            "{method} {path}: no success response"
        );
        for (status, response) in responses {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status}: no description"
            );
            // `/health` answers its report whatever its status; every other error is the
            // envelope.
            let own_body = path == "/health" && status == "503";
            if (status.starts_with('4') || status.starts_with('5')) && !own_body {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert!(
                    schema == "#/components/schemas/ErrorBody"
                        || *schema == format!("#/components/schemas/Error{status}"),
                    "{method} {path} {status}: {schema}"
                );
            }
        }
        // And the router serves it: whatever the answer, it is not "no such route".
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x_1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let (status, body) = send(&server, method, &concrete);
        assert!(
            status != 405 && body["error"]["code"] != "route_not_found",
            "{method} {concrete}: {status} {body}"
        );
    }

    // Every link leads to an operation that takes the parameter it fills.
    let mut operations = std::collections::BTreeMap::new();
    for item in document["paths"].as_object().unwrap().values() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                operations.insert(operation["operationId"].as_str().unwrap(), operation);
            }
        }
    }
    let mut links = 0;
    for operation in operations.values() {
        for response in operation["responses"].as_object().unwrap().values() {
            for link in response["links"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, l)| l)
            {
                let target = link["operationId"].as_str().expect("an operationId");
                let target = operations
                    .get(target)
                    .unwrap_or_else(|| panic!("a link to no operation {target}"));
                for name in link["parameters"].as_object().unwrap().keys() {
                    assert!(
                        target["parameters"]
                            .as_array()
                            .is_some_and(|ps| ps.iter().any(|p| p["name"] == name.as_str())),
                        "a link fills {name}, which {} does not take",
                        target["operationId"]
                    );
                }
                links += 1;
            }
        }
    }
    assert!(links >= 20, "only {links} links");
    // An error status's envelope lists exactly the codes answered with that status.
    let conflict =
        document["components"]["schemas"]["Error409"]["properties"]["error"]["properties"]["code"]
            ["enum"]
            .as_array()
            .expect("Error409's codes")
            .clone();
    assert!(
        conflict.iter().any(|c| c == "order_not_open"),
        "{conflict:?}"
    );
    assert!(
        !conflict.iter().any(|c| c == "insufficient_funds"),
        "{conflict:?}"
    );
    // Every code an error can carry is listed, the core's and the gateway's.
    let codes = &document["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"];
    for code in ["insufficient_funds", "invalid_request", "route_not_found"] {
        assert!(
            codes.as_array().unwrap().iter().any(|c| c == code),
            "{code} not in ErrorCode: {codes}"
        );
    }
    // Every schema a reference points at exists.
    let text = document.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "a reference to a missing schema {name}"
        );
    }
}

/// `/docs` renders the document with assets the server itself serves: no CDN.
#[test]
fn the_reference_page_needs_nothing_from_elsewhere() {
    let server = Server::start(&[]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let get = |path: &str| {
        let response = agent
            .get(format!("http://127.0.0.1:{}{path}", server.port))
            .call()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.into_body().read_to_string().unwrap())
    };
    let (status, page) = get("/docs");
    assert_eq!(status, 200);
    assert!(page.contains("/api/v1/openapi.json"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"),
        "the page loads something from elsewhere:\n{page}"
    );
    let assets: Vec<&str> = page
        .split(['"', '\''])
        .filter(|s| s.starts_with('/') && (s.ends_with(".js") || s.ends_with(".css")))
        .collect();
    assert!(assets.len() >= 2, "{page}");
    for asset in assets {
        let (status, body) = get(asset);
        assert_eq!(status, 200, "{asset}");
        assert!(body.len() > 1000, "{asset} is {} bytes", body.len());
    }
}

/// What Schemathesis found against the first document, each kept fixed: paging and size
/// parameters outside their documented range were silently clamped instead of refused;
/// `type=` was ignored on a single transaction; a plain GET of a WebSocket path and a
/// non-multipart KYC upload answered plain text instead of the error envelope.
#[test]
fn what_contract_fuzzing_found_stays_fixed() {
    let server = Server::start(&["--demo"]);
    let (user, password) = server.demo_login("alice");
    let alice = server.api().login(&user, &password);
    for path in [
        "/api/v1/markets?page=2147483648",
        "/api/v1/markets?page=0",
        "/api/v1/markets?limit=101",
        "/api/v1/markets/trending?limit=0",
        "/api/v1/markets/mkt_1/orderbook?depth=10001",
        "/api/v1/markets/mkt_1/chart?limit=1001",
        "/api/v1/orders?limit=4294967295",
        "/api/v1/withdrawals/usr_2/history?page=1000001",
        "/api/v1/transactions/usr_2?limit=0",
        "/api/v1/transactions/txn_1?type=",
        "/api/v1/transactions/txn_1?limit=5",
    ] {
        let reply = alice.get(path);
        reply.expect_error(400, "invalid_request");
        assert!(
            reply.body["error"]["message"].as_str().is_some(),
            "{path}: {}",
            reply.body
        );
    }
    // In range, the same routes answer.
    alice.get("/api/v1/markets?page=1&limit=100").expect(200);
    alice.get("/api/v1/transactions/txn_1").expect(200);

    for path in ["/ws/markets/mkt_1", "/ws/markets/1"] {
        let (status, body) = send(&server, "GET", path);
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{path}: {body}");
    }
    let reply = alice.post("/api/v1/kyc/submit", &serde_json::json!({}));
    reply.expect_error(400, "invalid_request");
}

/// What a review of the document against the server found, each kept fixed: a JSON route
/// without a JSON content type answered 400 where the document says 415; decimals with
/// underscores (`"1_0"` read as 10) and API key ids with a sign (`key_+1`) were accepted
/// although no documented pattern allows them.
#[test]
fn what_the_documents_review_found_stays_fixed() {
    let server = Server::start(&["--demo"]);
    let (user, password) = server.demo_login("alice");
    let alice = server.api().login(&user, &password);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(format!(
            "http://127.0.0.1:{}/api/v1/wallets/create",
            server.port
        ))
        .header(
            "Authorization",
            &format!("Bearer {}", alice.token.as_deref().unwrap()),
        )
        .header("Content-Type", "text/plain")
        .send("{\"currency\": \"EUR\"}")
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let body: Value =
        serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "unsupported_media_type", "{body}");

    let reply = alice.post(
        "/api/v1/deposits/initiate",
        &serde_json::json!({"amount": "1_0", "currency": "USD", "payment_method": "sandbox"}),
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    alice
        .delete("/api/v1/api-keys/key_+1")
        .expect_error(400, "invalid_id");
}
