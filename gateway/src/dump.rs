//! Journal records as an operator reads them (`betbet journal dump`): public ids (`usr_2`),
//! decimals (`1000`, `0.45`) and RFC 3339 times instead of the engine's raw newtypes, and
//! secrets — password hashes, refresh-token hashes, TOTP secrets, sealed payment details and
//! API-key secrets — redacted unless asked for.

use betbet_protocol::command::Command;
use betbet_protocol::types::{AMOUNT_SCALE, PRICE_SCALE, QTY_SCALE, Timestamp};

/// Fields whose values are secrets or verifiers of secrets.
const SECRET_FIELDS: &[&str] = &[
    "password_hash",
    "refresh_hash",
    "presented_hash",
    "next_hash",
    "secret",
    "sealed_secret",
    "details_sealed",
    "signature",
    "two_fa_code",
    "code",
];

/// The newtypes printed as public ids, with their prefixes.
const IDS: &[(&str, &str)] = &[
    ("UserId", "usr"),
    ("AccountId", "wal"),
    ("TxId", "txn"),
    ("PaymentMethodId", "pmt"),
    ("KycDocumentId", "kyc"),
    ("SessionId", "ses"),
    ("MarketId", "mkt"),
    ("OutcomeId", "out"),
    ("OrderId", "ord"),
    ("TradeId", "trd"),
    ("PositionId", "pos"),
    ("PoolId", "pool"),
];

/// One command as text (see the module docs).
pub fn describe(command: &Command, show_secrets: bool) -> String {
    let debug = format!("{command:?}");
    let text = if show_secrets { debug } else { redact(&debug) };
    humanize(&text)
}

fn decimal(units: i128, scale: i64) -> String {
    let scale = i128::from(scale);
    let sign = if units < 0 { "-" } else { "" };
    let (whole, fraction) = (units.abs() / scale, units.abs() % scale);
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = scale.to_string().len() - 1;
    let fraction = format!("{fraction:0digits$}");
    format!("{sign}{whole}.{}", fraction.trim_end_matches('0'))
}

/// Rewrites `Name(123)` of the known newtypes.
fn humanize(text: &str) -> String {
    let patterns: Vec<(String, Kind)> = [
        ("Amount", Kind::Scaled(AMOUNT_SCALE)),
        ("Price", Kind::Scaled(i64::from(PRICE_SCALE))),
        ("Qty", Kind::Scaled(QTY_SCALE as i64)),
        ("Timestamp", Kind::Time),
    ]
    .into_iter()
    .chain(IDS.iter().map(|&(name, prefix)| (name, Kind::Id(prefix))))
    .map(|(name, kind)| (format!("{name}("), kind))
    .collect();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(c) = rest.chars().next() {
        // A whole word only: `UserId(` but not `SomeUserId(`.
        let boundary = out
            .chars()
            .last()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        for (pattern, kind) in patterns.iter().filter(|_| boundary) {
            let Some(after) = rest.strip_prefix(pattern.as_str()) else {
                continue;
            };
            let end = after.find(')').unwrap_or(0);
            let number = &after[..end];
            let Ok(value) = number.parse::<i128>() else {
                continue;
            };
            match *kind {
                Kind::Scaled(scale) => out.push_str(&decimal(value, scale)),
                Kind::Time => match i64::try_from(value) {
                    Ok(micros) => out.push_str(&betbet_protocol::time::format(Timestamp(micros))),
                    Err(_) => out.push_str(number),
                },
                // User 0 is the system (providers, timers, the operator).
                Kind::Id("usr") if value == 0 => out.push_str("system"),
                Kind::Id(prefix) => out.push_str(&format!("{prefix}_{value}")),
            }
            rest = &after[end + 1..];
            continue 'scan;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[derive(Clone, Copy)]
enum Kind {
    Scaled(i64),
    Time,
    Id(&'static str),
}

/// Replaces the value after `field: ` for every secret field: a string literal, a `[...]`
/// list, or a `Some(...)`/plain token.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let secret = SECRET_FIELDS.iter().find(|f| {
            rest.starts_with(&format!("{f}: "))
                && out
                    .chars()
                    .last()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '_')
        });
        if let Some(field) = secret {
            out.push_str(field);
            out.push_str(": <redacted>");
            rest = skip_value(&rest[field.len() + 2..]);
            continue;
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The text after one Debug value (a quoted string, bracketed or parenthesised group, or a
/// bare token up to `,` / `}`).
fn skip_value(text: &str) -> &str {
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    in_string = false;
                    if depth == 0 {
                        return &text[i + 1..];
                    }
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '(' | '{' => depth += 1,
            ']' | ')' | '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return &text[i + 1..];
                }
            }
            ',' | '}' | ')' if depth == 0 => return &text[i..],
            _ => {}
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;
    use betbet_protocol::command::{InitiateDeposit, RegisterUser};
    use betbet_protocol::types::{Amount, Currency, UserId};

    #[test]
    fn records_read_in_public_ids_and_decimals_with_secrets_redacted() {
        let register = Command::RegisterUser(RegisterUser {
            username: "alice".to_owned(),
            email: "alice@example.com".to_owned(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
            referral_code: None,
        });
        let text = describe(&register, false);
        assert!(text.contains("password_hash: <redacted>"), "{text}");
        assert!(!text.contains("argon2"), "{text}");
        assert!(text.contains("alice@example.com"));
        assert!(describe(&register, true).contains("argon2id"));

        let deposit = Command::InitiateDeposit(InitiateDeposit {
            actor: UserId(2),
            user: UserId(2),
            currency: Currency::new("USD").unwrap(),
            amount: Amount(100_050_000_000),
            payment_method: "sandbox".to_owned(),
            idempotency_key: None,
        });
        let text = describe(&deposit, false);
        assert!(text.contains("actor: usr_2, user: usr_2"), "{text}");
        assert!(text.contains("amount: 1000.5"), "{text}");
        assert_eq!(decimal(4_500, 10_000), "0.45");
        assert_eq!(decimal(-1, 100_000_000), "-0.00000001");
    }
}
