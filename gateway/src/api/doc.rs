//! The OpenAPI 3.1 document, served at `/api/v1/openapi.json` and rendered at `/docs`.
//!
//! Nothing here is written by hand per route: each handler carries a `#[utoipa::path]`
//! annotation (its path, query parameters, body and success responses, taken from the types
//! it reads and returns), and the route table ([`super::table`]) adds what its declaration
//! implies — the bearer requirement of a non-public route, the id format of every path
//! parameter, and the error responses, all in the one envelope ([`crate::error::ErrorBody`]).
//! The router is built from the same declarations, so a route cannot be served without being
//! documented or documented without being served.

use super::table::{Access, BodyKind};
use crate::error::{ErrorBody, ErrorDetail};
use axum::http::Method;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn, PathItem, Paths};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required,
};
use utoipa::{PartialSchema, ToSchema};

/// The security scheme's name in the document.
pub const BEARER: &str = "bearer";

/// What the document says about the API as a whole.
const DESCRIPTION: &str = "\
BetBet's REST API. Amounts, prices and quantities are exact decimals, sent as strings \
(`\"12.50\"`) or JSON numbers and always answered as strings; times are RFC 3339 in UTC. \
Ids are strings with a prefix that names their kind (`usr_1`, `mkt_3`, `ord_7`); an id of \
the wrong kind is a 400 `invalid_id`. Every error, whatever its status, is the envelope \
`{\"error\": {\"code\", \"message\", \"request_id\", \"fields\"?}}`; `code` is stable, and \
the envelope of each status (`Error400` … `Error503`) lists the codes answered with it. Sign in with `POST /api/v1/auth/login` and send its \
`access_token` as `Authorization: Bearer <token>`. The WebSocket and QUIC protocols are \
described in docs/protocols.md.";

/// The socket handshakes' refusals of a token (their public routes take one optionally).
pub const SOCKET_401: &str = "A token was sent and is malformed, expired or of an ended \
    session (`unauthorized`, `session_revoked`)";
pub const SOCKET_403: &str = "The Origin is not allowed (`origin_not_allowed`), or the \
    token's account is suspended (`account_suspended`)";

/// Each operation of a path item, with its method.
pub fn operations(item: &PathItem) -> impl Iterator<Item = (Method, &Operation)> {
    [
        (Method::GET, item.get.as_ref()),
        (Method::PUT, item.put.as_ref()),
        (Method::POST, item.post.as_ref()),
        (Method::DELETE, item.delete.as_ref()),
        (Method::PATCH, item.patch.as_ref()),
        (Method::HEAD, item.head.as_ref()),
        (Method::OPTIONS, item.options.as_ref()),
        (Method::TRACE, item.trace.as_ref()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
}

/// Each operation of a path item, with its method, to change.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
        (Method::HEAD, item.head.as_mut()),
        (Method::OPTIONS, item.options.as_mut()),
        (Method::TRACE, item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
}

/// The format of a path parameter, by its name: the prefix of the ids it takes.
fn id_format(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "user_id" => ("usr", "a user id"),
        "market_id" => ("mkt", "a market id"),
        "order_id" => ("ord", "an order id"),
        "position_id" => ("pos", "a position id"),
        "pool_id" => ("pool", "a pool id"),
        "document_id" => ("kyc", "a KYC document id"),
        "withdrawal_id" => ("txn", "a withdrawal's transaction id"),
        "key_id" => ("key", "an API key id"),
        "game_id" => ("game", "a game id"),
        _ => return None,
    })
}

fn path_parameter(name: &str) -> Parameter {
    let (schema, description) = match (name, id_format(name)) {
        (_, Some((prefix, what))) => (
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!("^{prefix}_[0-9]{{1,20}}$")))
                .examples([serde_json::Value::from(format!("{prefix}_1"))])
                .build(),
            format!("{what}, `{prefix}_<n>`"),
        ),
        ("provider", None) => (
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(64))
                .build(),
            "the payment provider that signed the call".to_owned(),
        ),
        (_, None) => (
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(64))
                .build(),
            "an id; the route's description says which kinds it takes".to_owned(),
        ),
    };
    let mut parameter = Parameter::new(name);
    parameter.parameter_in = ParameterIn::Path;
    parameter.required = Required::True;
    parameter.description = Some(description);
    parameter.schema = Some(RefOr::T(Schema::Object(schema)));
    parameter
}

/// The schema name of the error envelope of one status, whose `code` is one of the codes
/// answered with that status.
fn error_schema_name(status: &str) -> String {
    format!("Error{status}")
}

fn error_response(status: &str, description: &str) -> RefOr<utoipa::openapi::Response> {
    let codes = status
        .parse()
        .map(|status| crate::error::error_codes(Some(status)))
        .unwrap_or_default();
    let listed: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    RefOr::T(
        ResponseBuilder::new()
            .description(format!("{description}. Codes: {}.", listed.join(", ")))
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(error_schema_name(status))))
                    .build(),
            )
            .build(),
    )
}

/// The error envelope with `code` narrowed to the codes of `status`: [`ErrorDetail`]'s
/// schema with another enumeration, so the envelope's fields are declared once.
fn error_schema(status: u16) -> Schema {
    let RefOr::T(Schema::Object(mut detail)) = ErrorDetail::schema() else {
        unreachable!("a struct's schema is an object");
    };
    detail.properties.insert(
        "code".to_owned(),
        RefOr::T(Schema::Object(crate::error::error_code_schema(Some(
            status,
        )))),
    );
    Schema::Object(
        ObjectBuilder::new()
            .property("error", detail)
            .required("error")
            .description(Some(format!(
                "The error envelope of a {status}; its codes are those answered with {status}"
            )))
            .build(),
    )
}

/// Completes `operation` of `path` from its table declaration.
pub fn complete(
    operation: &mut Operation,
    method: &Method,
    path: &str,
    access: Access,
    body: BodyKind,
) {
    // Path parameters the annotation does not describe itself.
    let names: Vec<&str> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect();
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    for name in &names {
        let described = parameters.iter().any(|p| match p {
            RefOr::T(p) => p.name == *name && p.parameter_in == ParameterIn::Path,
            RefOr::Ref(_) => false,
        });
        if !described {
            parameters.push(RefOr::T(path_parameter(name)));
        }
    }
    if parameters.is_empty() {
        operation.parameters = None;
    }
    if body == BodyKind::MaybeJsonBody {
        optional_body(operation);
    }
    match access {
        Access::Public | Access::Signed => {}
        Access::User | Access::Owner | Access::Admin => {
            operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
        }
    }
    let mut errors: Vec<(&str, &str)> = vec![(
        "400",
        "The request is malformed: a parameter or body field is missing or invalid \
         (`invalid_request`, with `fields`; `invalid_id`, `invalid_amount`, …)",
    )];
    match access {
        Access::Public => {}
        Access::Signed => errors.push(("401", "The signature is missing, stale or wrong")),
        Access::User | Access::Owner | Access::Admin => {
            errors.push(("401", "No valid bearer token, or its session has ended"));
        }
    }
    match access {
        Access::Owner => errors.push((
            "403",
            "The object is not the caller's, or the caller's account may not do this",
        )),
        Access::Admin => errors.push(("403", "The caller is not an admin")),
        Access::User => errors.push((
            "403",
            "An identity parameter names someone else, or the account may not do this",
        )),
        Access::Public | Access::Signed => {}
    }
    if !names.is_empty() || path.starts_with("/api/") {
        errors.push((
            "404",
            "Something the request names (in its path, query or body) does not exist",
        ));
    }
    if body != BodyKind::NoBody {
        errors.push(("413", "The body is larger than the server accepts"));
        errors.push(("415", "The body is not of the declared content type"));
    }
    // Anything but a read can meet the object in a state that refuses it.
    let changes = *method != Method::GET;
    if changes {
        errors.push((
            "409",
            "The request conflicts with the object's state (already done, not pending, …)",
        ));
        errors.push(("422", "A business rule refuses the request"));
    }
    if path.starts_with("/api/") {
        errors.push((
            "429",
            "Too many requests; `Retry-After` says when to try again",
        ));
    }
    errors.push((
        "500",
        "The server failed; the request id names the log lines",
    ));
    errors.push(("503", "The core is unavailable or overloaded; try again"));
    // OpenAPI requires every response to say what it is.
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = "Success".to_owned();
        }
    }
    for (status, description) in errors {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(status, description));
    }
}

/// A body that may be left out: not required, and — since a literal `null` is not one of the
/// bodies it takes — its schema is the object's alone (`Option<T>` in an annotation would
/// say `oneOf [T, null]`).
fn optional_body(operation: &mut Operation) {
    use utoipa::openapi::schema::SchemaType;
    let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
        return;
    };
    body.required = Some(Required::False);
    for content in body.content.values_mut() {
        let RefOr::T(content) = content else {
            continue;
        };
        let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
            continue;
        };
        let is_null = |item: &RefOr<Schema>| {
            matches!(item, RefOr::T(Schema::Object(o))
                if o.schema_type == SchemaType::Type(Type::Null))
        };
        let mut rest = one_of.items.iter().filter(|item| !is_null(item));
        if let (Some(only), None) = (rest.next(), rest.next())
            && one_of.items.iter().any(is_null)
        {
            content.schema = Some(only.clone());
        }
    }
}

/// What a created object's answer leads to: (the creating operation, its status, the
/// operations that take the new object's id, and the parameter they take it as). Written
/// into the document as OpenAPI links, so a client (and Schemathesis's stateful phase)
/// can follow create → read → act; a test holds every name here to an operation.
pub const LINKS: &[(&str, &str, &[&str], &str)] = &[
    (
        "create_market",
        "201",
        &[
            "get_market",
            "update_market",
            "get_orderbook",
            "market_chart",
            "place_order",
            "cancel_all_orders",
            "mint_shares",
            "merge_shares",
        ],
        "market_id",
    ),
    (
        "place_order",
        "201",
        &["get_order", "amend_order", "cancel_order"],
        "order_id",
    ),
    (
        "create_pool",
        "201",
        &[
            "get_pool",
            "join_pool",
            "leave_pool",
            "list_pool_members",
            "start_pool",
            "settle_pool",
        ],
        "pool_id",
    ),
    ("create_api_key", "201", &["revoke_api_key"], "key_id"),
    (
        "add_payment_method",
        "201",
        &["remove_payment_method"],
        "id",
    ),
    ("create_wallet", "201", &["wallet_balance"], "id"),
    ("request_withdrawal", "201", &["cancel_withdrawal"], "id"),
    ("initiate_deposit", "201", &["transactions_by_id"], "id"),
    (
        "register_user",
        "201",
        &["get_profile", "user_stats", "kyc_status", "update_profile"],
        "user_id",
    ),
];

/// Adds [`LINKS`] to the operations' responses.
fn link(paths: &mut Paths) {
    use utoipa::openapi::link::LinkBuilder;
    for (source, status, targets, parameter) in LINKS {
        let response = paths
            .paths
            .values_mut()
            .flat_map(operations_mut)
            .map(|(_, o)| o)
            .find(|o| o.operation_id.as_deref() == Some(source))
            .and_then(|o| o.responses.responses.get_mut(*status));
        let Some(RefOr::T(response)) = response else {
            continue;
        };
        for target in *targets {
            response.links.insert(
                (*target).to_owned(),
                RefOr::T(
                    LinkBuilder::new()
                        .operation_id(*target)
                        .parameter(*parameter, "$response.body#/id")
                        .description(format!("`{parameter}` is the new object's `id`"))
                        .build(),
                ),
            );
        }
    }
}

/// The whole document, from the routes' paths and the schemas their annotations use.
///
/// Schemas are named by their Rust type's name: two different types of one name would
/// silently replace each other, so that is refused (the router is built at start-up, and
/// every end-to-end test starts it).
pub fn document(
    mut paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
    entries: &[super::table::RouteEntry],
) -> OpenApi {
    for entry in entries {
        let operation = paths
            .paths
            .get_mut(&entry.path)
            .and_then(|item| operations_mut(item).find(|(m, _)| *m == entry.method))
            .map(|(_, o)| o);
        if let Some(operation) = operation {
            complete(
                operation,
                &entry.method,
                &entry.path,
                entry.access,
                entry.body,
            );
        }
    }
    let mut named: std::collections::BTreeMap<String, RefOr<Schema>> = Default::default();
    for (name, schema) in schemas {
        if let Some(earlier) = named.get(&name) {
            assert!(
                earlier == &schema,
                "two different request or response types are both named `{name}`"
            );
        }
        named.insert(name, schema);
    }
    let schemas = named;
    link(&mut paths);
    let mut components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .schema(ErrorBody::name(), ErrorBody::schema())
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The `access_token` of `POST /api/v1/auth/login` or `/auth/refresh`",
                    ))
                    .build(),
            ),
        );
    let mut errors = Vec::new();
    ErrorBody::schemas(&mut errors);
    components = components.schemas_from_iter(errors);
    // One envelope per error status the operations answer with.
    let mut statuses: Vec<u16> = paths
        .paths
        .values()
        .flat_map(|item| {
            operations(item)
                .flat_map(|(_, o)| o.responses.responses.keys().cloned())
                .collect::<Vec<_>>()
        })
        .filter_map(|status| status.parse().ok())
        .filter(|status| *status >= 400)
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        components =
            components.schema(error_schema_name(&status.to_string()), error_schema(status));
    }
    let mut tags: Vec<String> = paths
        .paths
        .values()
        .flat_map(|item| operations(item).map(|(_, o)| o.tags.clone().unwrap_or_default()))
        .flatten()
        .collect();
    tags.sort();
    tags.dedup();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("BetBet API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .tags(Some(
            tags.into_iter().map(|t| TagBuilder::new().name(t).build()),
        ))
        .build()
}
