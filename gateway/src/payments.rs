//! Payment providers behind one adapter interface.
//!
//! A deposit starts pending; its provider decides what happens next. The `sandbox` provider
//! (on with `--sandbox-payments` or `--demo`, off by default) confirms at once — for demos
//! and tests, never for real money. Every other provider is external: it confirms by
//! calling `POST /api/v1/deposits/webhook/{provider}` with the body signed by HMAC-SHA256
//! under the configured webhook secret (`X-BetBet-Signature: sha256=<hex>`). Adding a real
//! mobile-money, card or crypto integration means implementing [`PaymentProvider`] and
//! having the provider call that webhook.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;

/// What a provider wants after a deposit was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderStep {
    /// The money is there: confirm now with this provider reference.
    ConfirmNow { reference: String },
    /// The provider will call the webhook; show the user these instructions.
    AwaitWebhook { instructions: String },
}

pub trait PaymentProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether deposits and withdrawals of this kind of method are handled.
    fn method_types(&self) -> &'static [&'static str];
    fn initiate(&self, deposit_id: &str, amount: &str, currency: &str) -> ProviderStep;
}

struct Sandbox;

impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn method_types(&self) -> &'static [&'static str] {
        &["bank", "mobile_money", "card", "crypto"]
    }

    fn initiate(&self, deposit_id: &str, _amount: &str, _currency: &str) -> ProviderStep {
        ProviderStep::ConfirmNow {
            reference: format!("sandbox-{deposit_id}"),
        }
    }
}

/// A provider whose confirmation arrives through the signed webhook.
struct External {
    name: &'static str,
    method_types: &'static [&'static str],
}

impl PaymentProvider for External {
    fn name(&self) -> &'static str {
        self.name
    }

    fn method_types(&self) -> &'static [&'static str] {
        self.method_types
    }

    fn initiate(&self, deposit_id: &str, amount: &str, currency: &str) -> ProviderStep {
        ProviderStep::AwaitWebhook {
            instructions: format!(
                "Pay {amount} {currency} with {} quoting reference {deposit_id}; the deposit completes when {} confirms it.",
                self.name, self.name
            ),
        }
    }
}

pub struct Payments {
    providers: BTreeMap<&'static str, Box<dyn PaymentProvider>>,
    webhook_key: Option<Vec<u8>>,
}

impl Payments {
    pub fn new(sandbox: bool, webhook_secret: Option<&str>) -> Self {
        let mut providers: BTreeMap<&'static str, Box<dyn PaymentProvider>> = BTreeMap::new();
        let external: [(&'static str, &'static [&'static str]); 8] = [
            ("ecocash", &["mobile_money"]),
            ("onemoney", &["mobile_money"]),
            ("mpesa", &["mobile_money"]),
            ("visa", &["card"]),
            ("mastercard", &["card"]),
            ("bank_transfer", &["bank"]),
            ("bitcoin", &["crypto"]),
            ("usdt", &["crypto"]),
        ];
        for (name, method_types) in external {
            providers.insert(name, Box::new(External { name, method_types }));
        }
        if sandbox {
            providers.insert("sandbox", Box::new(Sandbox));
        }
        Payments {
            providers,
            webhook_key: webhook_secret.map(|s| s.as_bytes().to_vec()),
        }
    }

    pub fn provider(&self, name: &str) -> Option<&dyn PaymentProvider> {
        self.providers.get(name).map(|p| p.as_ref())
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.providers.keys().copied().collect()
    }

    pub fn webhook_enabled(&self) -> bool {
        self.webhook_key.is_some()
    }

    /// Checks `X-BetBet-Signature: sha256=<hex>` over the raw body in constant time.
    pub fn verify_webhook(&self, body: &[u8], signature: &str) -> bool {
        let Some(key) = &self.webhook_key else {
            return false;
        };
        let Some(hex) = signature.trim().strip_prefix("sha256=") else {
            return false;
        };
        let Some(expected) = decode_hex(hex) else {
            return false;
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The signature a provider would send, for tests and for provider simulators.
pub fn sign_webhook(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signatures_are_checked() {
        let payments = Payments::new(false, Some("s3cret"));
        let body = br#"{"deposit_id":"txn_1"}"#;
        let signature = sign_webhook("s3cret", body);
        assert!(payments.verify_webhook(body, &signature));
        assert!(!payments.verify_webhook(br#"{"deposit_id":"txn_2"}"#, &signature));
        assert!(!payments.verify_webhook(body, &sign_webhook("other", body)));
        assert!(!payments.verify_webhook(body, "sha256=zz"));
        assert!(!Payments::new(false, None).verify_webhook(body, &signature));
        assert!(Payments::new(false, None).provider("sandbox").is_none());
        assert!(Payments::new(true, None).provider("sandbox").is_some());
    }
}
